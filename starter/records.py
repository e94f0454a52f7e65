"""What the report, the what-if and the gateway's report route share: reading a date range, the tenant's
policy for it, and the archived cases in it (open ones with their live status from Temporal).

Bad input raises `FieldProblem` naming the field (`tenant`, `from`, `to`); the
CLI says it with exit status 2, the gateway as a 422.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from archive.report import window
from archive.store import Archive
from tenant_policies import expand_holidays, policy_path
from workflows.policy import LoadedPolicy, Policy


class FieldProblem(ValueError):
    """One input field that cannot be used, and why."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def parse_day(text: str | None, field: str) -> date:
    if not text:
        raise FieldProblem(field, "required: a date like 2030-01-07")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FieldProblem(field, f"{text[:40]!r} is not a date like 2030-01-07") from None


def date_range(start_text: str | None, end_text: str | None) -> tuple[date, date]:
    """[from, to): `to` must come after `from`."""
    start, end = parse_day(start_text, "from"), parse_day(end_text, "to")
    if end <= start:
        raise FieldProblem("to", f"{end.isoformat()} is not after from ({start.isoformat()}); the range is [from, to)")
    return start, end


def tenant_policy(tenant: str | None) -> Policy:
    """The tenant's policy file; an unknown tenant names `tenant`. A broken file raises PolicyError."""
    from starter.gateway.policies import TENANT
    from tenant_policies import read_policy_file

    if not tenant or not TENANT.fullmatch(tenant) or not policy_path(tenant).is_file():
        raise FieldProblem("tenant", f"unknown tenant {(tenant or '')[:80]!r} (no {policy_path(tenant or 'T')})")
    return read_policy_file(policy_path(tenant))


def with_holidays(policy: Policy, start: date, end: date) -> LoadedPolicy:
    """Holidays expanded from the year before the range to two years past it (or past today, for open cases)."""
    last = max(end.year, datetime.now(UTC).year)
    return expand_holidays(policy, start.year - 1, last + 2)


def archived_in(archive: Archive, tenant: str, start: date, end: date, timezone: str) -> list:
    low, high = window(start, end, timezone)
    return archive.received_between(tenant, low, high)
