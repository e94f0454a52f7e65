"""The `SupportCase` start, with the request built here instead of by `Client.start_workflow`.

Gateway CPU per open has a target (issue 17: 2 ms), and most of what a case
start costs beyond a bare one was the SDK's generic path: each of the ten
search attributes went through the default payload converter's chain, one
value at a time, and the start through the client's interceptor machinery.
This module sends the same `StartWorkflowExecutionRequest` with less work:

- the arguments, the memo and the summary still go through the client's own
  data converter, so the payload codec (encryption) applies exactly as before;
- the search attributes are written as the SDK writes them (JSON, with their
  type in the metadata; a codec never touches them), and
  `tests/test_start_request.py` checks the bytes against the SDK's encoder;
- a second start of the same id raises `WorkflowAlreadyStartedError`, told
  apart the way the SDK tells it (the server's `WorkflowExecutionAlreadyStartedFailure`);
- a client whose interceptors intercept client calls (tracing, the test
  server's time skipping) starts through `start_workflow`, so they see the start.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import SearchAttributes
from temporalio.api.enums.v1 import WorkflowIdConflictPolicy, WorkflowIdReusePolicy
from temporalio.api.errordetails.v1 import WorkflowExecutionAlreadyStartedFailure
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
from temporalio.client import Client, Interceptor, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.converter import WorkflowSerializationContext
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows import search_attributes as sa
from workflows.contracts import CaseRequest, CaseStatus
from workflows.messages import summary_line
from workflows.policy import LoadedPolicy
from workflows.state import CaseState

WORKFLOW_TYPE = "SupportCase"
# The `type` metadata the SDK sets on each attribute's payload (Keyword, Int, Datetime, Bool).
ATTRIBUTE_TYPES = {key.name: sa.type_name(key).encode() for key in sa.ALL}
JSON_PLAIN = b"json/plain"
TO_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode  # the SDK's JSON settings, built once


async def start_case_workflow(
    client: Client, workflow_id: str, queue: str, request: CaseRequest, policy: LoadedPolicy, case: CaseState
) -> WorkflowHandle[Any, CaseStatus]:
    """Start the case; `WorkflowAlreadyStartedError` when its id is taken, as from `start_workflow`."""
    if _intercepts_client_calls(client):
        return await client.start_workflow(
            WORKFLOW_TYPE,
            args=[request, None, policy],
            id=workflow_id,
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary_line(case),
            search_attributes=sa.as_pairs(sa.values_of(case)),
            memo={"subject": case.subject, "assignee": case.assignee},
            result_type=CaseStatus,
        )
    start = await start_request(client, workflow_id, queue, request, policy, case)
    try:
        started = await client.workflow_service.start_workflow_execution(start, retry=True)
    except RPCError as problem:
        if _already_started(problem):
            raise WorkflowAlreadyStartedError(workflow_id, WORKFLOW_TYPE) from None
        raise
    # As `start_workflow` returns it: calls go to the latest run, the result is followed from this one.
    return WorkflowHandle(
        client,
        workflow_id,
        result_run_id=started.run_id,
        first_execution_run_id=started.run_id,
        result_type=CaseStatus,
        start_workflow_response=started,
    )


def _intercepts_client_calls(client: Client) -> bool:
    return any(
        type(interceptor).intercept_client is not Interceptor.intercept_client
        for interceptor in client.config()["interceptors"]
    )


async def start_request(
    client: Client, workflow_id: str, queue: str, request: CaseRequest, policy: LoadedPolicy, case: CaseState
) -> StartWorkflowExecutionRequest:
    """The start of `case` (its opening worked out by `opened_case`): arguments, memo, summary and attributes,
    with the id policies that make a second start of the same source id fail rather than open a case twice."""
    converter = client.data_converter.with_context(
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    )
    # One pass through the converter and codec for everything that is a payload of ours.
    payloads = await converter.encode([request, None, policy, case.subject, case.assignee, summary_line(case)])
    arguments, (subject, assignee, summary) = payloads[:3], payloads[3:]
    # Built field by field: a constructor copies each message it is given, and fills a map given as a dict
    # through Python (tight loop: the attributes 30 → 15 µs, the request around them 19 → 11 µs).
    start = StartWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_id=workflow_id,
        identity=client.identity,
        request_id=str(uuid.uuid4()),
        workflow_id_reuse_policy=WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
        workflow_id_conflict_policy=WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
    )
    start.workflow_type.name = WORKFLOW_TYPE
    start.task_queue.name = queue
    start.input.payloads.extend(arguments)
    start.memo.fields["subject"].CopyFrom(subject)
    start.memo.fields["assignee"].CopyFrom(assignee)
    start.user_metadata.summary.CopyFrom(summary)
    start.search_attributes.CopyFrom(search_attributes(sa.values_of(case)))
    return start


def search_attributes(values: Mapping[str, object]) -> SearchAttributes:
    """`values` (the `values_of` form) as a start carries them: the set ones, each as the SDK encodes it."""
    attributes = SearchAttributes()
    fields = attributes.indexed_fields
    for name, value in values.items():
        if value is None:
            continue
        payload = fields[name]
        payload.metadata["encoding"] = JSON_PLAIN
        payload.metadata["type"] = ATTRIBUTE_TYPES[name]
        payload.data = TO_JSON(value.isoformat() if isinstance(value, datetime) else value).encode()
    return attributes


def _already_started(problem: RPCError) -> bool:
    """The server's answer to a start whose id is taken (a duplicate source id), as the SDK recognises it."""
    if problem.status != RPCStatusCode.ALREADY_EXISTS or not problem.grpc_status.details:
        return False
    return problem.grpc_status.details[0].Unpack(WorkflowExecutionAlreadyStartedFailure())
