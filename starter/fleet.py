"""The fleet of cases as visibility sees it: a query from operator filters, and one summary row per case.

Everything here comes from the contract's search attributes, so listing a
thousand cases costs no workflow queries. Visibility is eventually
consistent: a case changed a moment ago may still show its old values.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, get_args

from pydantic import BaseModel

from workflows import search_attributes as sa
from workflows.contracts import CaseRequest, CaseStateName

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowExecution

# A closed case can keep its workflow running a while, until its last deliveries end: not open any more.
OPEN = "ExecutionStatus = 'Running' AND CaseState != 'closed'"
STATES: tuple[str, ...] = get_args(CaseStateName)
TENANT_PATTERN = re.compile(
    next(m.pattern for m in CaseRequest.model_fields["tenant"].metadata if hasattr(m, "pattern"))
)


class FilterError(ValueError):
    """A filter that cannot become a visibility query, as `filter: problem`."""


class CaseSummary(BaseModel):
    """One case as the fleet list shows it, read from its search attributes."""

    case_id: str
    tenant: str | None
    state: str | None
    channel: str | None
    severity: int | None
    escalation_step: int | None
    requester_email: str | None
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    next_due_at: datetime | None
    sla_breached: bool | None
    started_at: datetime | None
    running: bool


def fleet_query(
    *,
    tenant: str | None = None,
    state: str | None = None,
    severity: int | None = None,
    breached: bool | None = None,
    include_finished: bool = False,
) -> str:
    """The visibility query for these filters; by default only open cases (running, not closed)."""
    terms = []
    if tenant is not None:
        if not TENANT_PATTERN.fullmatch(tenant):
            raise FilterError(f"tenant: {tenant!r} is not a tenant name (lower-case letters, digits, _ and -)")
        terms.append(f"{sa.CASE_TENANT.name} = '{tenant}'")
    if state is not None:
        if state not in STATES:
            raise FilterError(f"state: {state!r} is not one of {', '.join(STATES)}")
        terms.append(f"{sa.CASE_STATE.name} = '{state}'")
    if severity is not None:
        terms.append(f"{sa.CASE_SEVERITY.name} = {int(severity)}")
    if breached is not None:
        terms.append(f"{sa.SLA_BREACHED.name} = {'true' if breached else 'false'}")
    # A closed case has (or soon will have) finished its workflow: asking for closed cases looks past open ones.
    if not include_finished and state != "closed":
        terms.append(OPEN)
    return " AND ".join(terms)


def summary(execution: WorkflowExecution) -> CaseSummary:
    from temporalio.client import WorkflowExecutionStatus

    found = execution.typed_search_attributes
    return CaseSummary(
        case_id=execution.id,
        tenant=found.get(sa.CASE_TENANT),
        state=found.get(sa.CASE_STATE),
        channel=found.get(sa.CASE_CHANNEL),
        severity=found.get(sa.CASE_SEVERITY),
        escalation_step=found.get(sa.ESCALATION_STEP),
        requester_email=found.get(sa.REQUESTER_EMAIL),
        response_due_at=found.get(sa.RESPONSE_DUE_AT),
        resolution_due_at=found.get(sa.RESOLUTION_DUE_AT),
        next_due_at=found.get(sa.NEXT_DUE_AT),
        sla_breached=found.get(sa.SLA_BREACHED),
        started_at=execution.start_time,
        running=execution.status == WorkflowExecutionStatus.RUNNING,
    )


async def list_cases(client: Client, query: str, limit: int | None = None) -> list[CaseSummary]:
    """Cases matching `query`, up to `limit`, only `SupportCase` workflows."""
    scoped = f"WorkflowType = 'SupportCase' AND {query}" if query else "WorkflowType = 'SupportCase'"
    # One page of `limit` rows, not the SDK's default 1,000: visibility reads what is asked for, at any fleet size.
    page_size = min(limit, 1000) if limit else 1000
    return [summary(execution) async for execution in client.list_workflows(scoped, limit=limit, page_size=page_size)]
