"""The fleet audit's shapes and timings: what it reports, and how its activities are retried.

The `FleetAudit` workflow imports this module, so it holds models, constants
and nothing with I/O; the activities live in `activities/audit.py` and are
called by name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.common import RetryPolicy

from workflows.contracts import TargetName

FIND_MISSED_DEADLINES = "find_missed_deadlines"
ALERT_MISSED_DEADLINES = "alert_missed_deadlines"
ALERT_REJECTED = "AlertRejected"  # a webhook that refuses the alert; retrying cannot help

# Visibility can be briefly unavailable; a few quick tries, then the audit run fails where the UI shows it.
FIND_TIMEOUT = timedelta(seconds=60)
FIND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# An alert is a delivery: keep trying for a while, never past the point where it is stale.
ALERT_START_TO_CLOSE = timedelta(seconds=30)
ALERT_SCHEDULE_TO_CLOSE = timedelta(minutes=30)
ALERT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=[ALERT_REJECTED],
)


class AuditModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuditQuery(AuditModel):
    """Which moment the audit asks about: a deadline before `as_of` minus the grace should have breached."""

    audit_id: str
    as_of: datetime


class MissedDeadline(AuditModel):
    """An open case whose earliest unmet deadline passed and no breach was recorded for it."""

    case_id: str
    tenant: str | None = None
    severity: int | None = None
    state: str | None = None
    due_at: datetime
    target: TargetName | None = None  # which clock, when NextDueAt equals one the attributes show


class AuditReport(AuditModel):
    """One audit run. `missed` should always be empty; anything in it means a worker did not act on time."""

    audit_id: str
    as_of: datetime
    grace_seconds: float
    query: str
    missed: list[MissedDeadline] = []
    truncated: bool = False  # more cases matched than one report carries
    alert: str | None = None  # what the alert did, when there was one
