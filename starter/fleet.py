"""The fleet of cases as visibility sees it: a query from operator filters, and one summary row per case.

Everything here comes from the contract's search attributes, so listing a
thousand cases costs no workflow queries. Visibility is eventually
consistent: a case changed a moment ago may still show its old values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

import tenant_policies
from starter.encryption import keyring_of, requester_email_keys
from starter.intake.addresses import is_email_address
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
    subject: str | None = None
    assignee: str | None = None
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
    requester: list[str] | None = None,
    include_finished: bool = False,
) -> str:
    """The visibility query for these filters; by default only open cases (running, not closed).
    `requester` holds what RequesterEmail indexes: the lower-cased address, or its keyed hashes (`requester_keys`)."""
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
    if requester is not None:
        # An address never holds a double quote or a backslash (one addr-spec); an apostrophe is fine (o'brien@…).
        terms.append(f"{sa.REQUESTER_EMAIL.name} IN ({', '.join(_quoted(value) for value in requester)})")
    # A closed case has (or soon will have) finished its workflow: asking for closed cases looks past open ones.
    if not include_finished and state != "closed":
        terms.append(OPEN)
    return " AND ".join(terms)


def requester_keys(client: Client, email: str) -> list[str]:
    """What RequesterEmail holds for `email`: its keyed hash under each listed key when payloads are encrypted
    (cases opened before a rotation keep the older key's), else the address; FilterError if it is no address."""
    if not is_email_address(email.strip()):
        raise FilterError(f"requester: {email[:80]!r} is not one email address such as ana@clinic.example")
    address = email.strip().lower()
    return requester_email_keys(address, keyring_of(client)) or [address]


def _quoted(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


async def summary(execution: WorkflowExecution, zone: tzinfo = UTC) -> CaseSummary:
    """One row: the attributes, plus subject and assignee from the memo, times in `zone`."""
    from temporalio.client import WorkflowExecutionStatus

    found = execution.typed_search_attributes
    memo = await execution.memo()

    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(zone) if moment else None

    return CaseSummary(
        case_id=execution.id,
        tenant=found.get(sa.CASE_TENANT),
        subject=memo.get("subject"),
        assignee=memo.get("assignee"),
        state=found.get(sa.CASE_STATE),
        channel=found.get(sa.CASE_CHANNEL),
        severity=found.get(sa.CASE_SEVERITY),
        escalation_step=found.get(sa.ESCALATION_STEP),
        requester_email=found.get(sa.REQUESTER_EMAIL),
        response_due_at=local(found.get(sa.RESPONSE_DUE_AT)),
        resolution_due_at=local(found.get(sa.RESOLUTION_DUE_AT)),
        next_due_at=local(found.get(sa.NEXT_DUE_AT)),
        sla_breached=found.get(sa.SLA_BREACHED),
        started_at=local(execution.start_time),
        running=execution.status == WorkflowExecutionStatus.RUNNING,
    )


def soonest_first(cases: list[CaseSummary]) -> list[CaseSummary]:
    """The next deadline first; cases with none (resolved, paused) after, oldest first."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(cases, key=lambda case: (case.next_due_at or far, case.started_at or far, case.case_id))


def zone_named(name: str | None, tenant: str | None) -> tzinfo:
    """The zone a list shows times in: `name`, else the one tenant's, else UTC; FilterError for an unknown zone."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise FilterError(f"tz: {name[:60]!r} is not an IANA time zone such as America/Chicago") from None
    if tenant:
        try:
            return ZoneInfo(tenant_policies.tenant_policy(tenant).calendar.timezone)
        except (tenant_policies.UnknownTenant, tenant_policies.PolicyError):
            return UTC
    return UTC


async def list_cases(client: Client, query: str, limit: int | None = None, zone: tzinfo = UTC) -> list[CaseSummary]:
    """Cases matching `query`, up to `limit`, only `SupportCase` workflows, soonest first."""
    scoped = f"WorkflowType = 'SupportCase' AND {query}" if query else "WorkflowType = 'SupportCase'"
    # One page of `limit` rows, not the SDK's default 1,000: visibility reads what is asked for, at any fleet size.
    page_size = min(limit, 1000) if limit else 1000
    return soonest_first(
        [
            await summary(execution, zone)
            async for execution in client.list_workflows(scoped, limit=limit, page_size=page_size)
        ]
    )
