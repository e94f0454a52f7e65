"""`GET /v1/reports/sla?tenant=&from=&to=` (operate): the SLA report over the case archive.

The same report as `supportflow report sla --json`: cases received in
[from, to) in the tenant's zone, open ones with their live status. An
unknown tenant or a bad range is a 422 naming the field; an archive that
cannot be read is a 503 naming its URL (password masked).
"""

# No `from __future__ import annotations`: FastAPI reads the query parameters from the annotations.
import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from archive.live import with_live_status
from archive.report import sla_report
from archive.store import ArchiveError, archive_at, archive_url
from starter.gateway.auth import OPERATE
from starter.gateway.errors import Unavailable, field_error
from starter.gateway.responses import ErrorBody, FieldErrorBody, Responses
from starter.records import FieldProblem, archived_in, date_range, tenant_policy, with_holidays
from tenant_policies import PolicyError
from workflows.contracts import SlaReport

router = APIRouter(tags=["reports"])
REPORTED: Responses = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    422: {"model": FieldErrorBody, "description": "An unknown tenant, or a date range that is unparseable or inverted"},
    503: {"model": ErrorBody, "description": "The case archive cannot be read"},
}


@router.get("/v1/reports/sla", response_model=SlaReport, responses=REPORTED, dependencies=[OPERATE])
async def report_sla(
    http: Request,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    start: Annotated[str | None, Query(alias="from", max_length=40, description="first day received")] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="the day after the last")] = None,
) -> SlaReport:
    """Met, breached and pending per severity and target (DESIGN "Case records and reports")."""
    try:
        first, last = date_range(start, end)
        policy = tenant_policy(tenant)
    except FieldProblem as problem:
        raise field_error(problem.field, problem.problem) from None
    except PolicyError as problem:
        raise Unavailable(f"the {tenant} policy cannot be used: {problem}") from None
    try:
        archive = await asyncio.to_thread(archive_at, archive_url())
        archived = await asyncio.to_thread(archived_in, archive, policy.tenant, first, last, policy.calendar.timezone)
    except ArchiveError as problem:
        raise Unavailable(str(problem)) from None
    # Open cases count with their live state; Temporal unreachable is a 503 (Unavailable), never a silent guess.
    client = await http.app.state.temporal.client() if any(s.state != "closed" for s in archived) else None
    statuses = await with_live_status(archived, client)
    return sla_report(statuses.cases, with_holidays(policy, first, last), first, last, datetime.now(UTC))
