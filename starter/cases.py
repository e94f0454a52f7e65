"""Opening a case from any Temporal client in this repo (gateway, CLI, demo):
the contract's workflow id, duplicate handling, summary and search attributes.

With payload encryption on (the client's codec holds the keys), the
requester's address is indexed as `hmac:<hex>` both here and by the
workflow, which upserts the `requester_email_key` the request carries.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowHandle
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.policy import load_tenant_policy, years_around
from starter.encryption import keyring_of, requester_email_key
from workflows import search_attributes as sa
from workflows.contracts import Amend, CaseRequest, CaseStatus
from workflows.state import CaseState, open_case


def task_queue() -> str:
    return os.environ.get("SUPPORTFLOW_TASK_QUEUE", "support-cases")


def case_id(request: CaseRequest) -> str:
    """`case-<tenant>-<key>`: the same source id always names the same case."""
    if request.source_id:
        key = hashlib.sha256(f"{request.channel}:{request.source_id}".encode()).hexdigest()[:24]
    else:
        key = uuid.uuid4().hex
    return f"case-{request.tenant}-{key}"


def as_opened(request: CaseRequest) -> tuple[CaseState, CaseStatus]:
    """The case as its first task will see it, computed with the workflow's own code from the same policy
    file. Should the worker see another policy, or another moment than `received_at`, the workflow
    upserts whatever differs from the attributes started with."""
    received_at = request.received_at or datetime.now(UTC)
    loaded = load_tenant_policy(request.tenant, *years_around(received_at.date()))
    case = open_case("", request, loaded, received_at)
    return case, case.status(loaded.business_calendar())


def static_summary(case: CaseState) -> str:
    """`Sev1 · blockit · Scheduling page down`, as the web UI lists cases."""
    return f"Sev{case.severity} · {case.policy.tenant} · {case.subject or '(no subject)'}"


def initial_search_attributes(request: CaseRequest) -> TypedSearchAttributes:
    """Everything the case's first task would publish, due dates included, so that task has nothing to
    upsert (one visibility write less per case) and a list shows the case complete from the first moment."""
    return sa.as_pairs(sa.values_of(*as_opened(request)))


@dataclass(frozen=True)
class Opened:
    case_id: str
    duplicate: bool
    handle: WorkflowHandle


async def start_case(client: Client, request: CaseRequest) -> Opened:
    """Start `SupportCase`, or find the case this source id already opened."""
    request = with_requester_email_key(client, request)
    workflow_id = case_id(request)
    case, status = as_opened(request)
    try:
        handle = await client.start_workflow(
            "SupportCase",
            request,
            id=workflow_id,
            task_queue=task_queue(),
            result_type=CaseStatus,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=static_summary(case),
            search_attributes=sa.as_pairs(sa.values_of(case, status)),
        )
        return Opened(workflow_id, False, handle)
    except WorkflowAlreadyStartedError:
        return Opened(workflow_id, True, client.get_workflow_handle(workflow_id, result_type=CaseStatus))


def with_requester_email_key(client: Client, args: CaseRequest | Amend) -> CaseRequest | Amend:
    """`args` carrying the keyed hash of its requester address when `client` encrypts; unchanged otherwise.

    An amend without a new address keeps the case's hash (the workflow ignores a None)."""
    keyring = keyring_of(client)
    if keyring is None:
        return args
    email = args.requester.email if args.requester else None
    return args.model_copy(update={"requester_email_key": requester_email_key(email, keyring)})
