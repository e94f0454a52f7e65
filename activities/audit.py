"""The fleet audit's side effects: a visibility query, and an alert (a metric and a webhook).

| variable | default | meaning |
|---|---|---|
| `SUPPORTFLOW_AUDIT_GRACE_SECONDS` | `120` | how far past its deadline a case must be before the audit counts it: a breach is recorded a moment after the timer fires, and visibility lags a little |
| `SUPPORTFLOW_AUDIT_WEBHOOK` | unset | where an alert is POSTed as JSON (the `AuditReport`); unset, the alert is the metric and the worker log only |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.channels.failures import DeliveryFailed
from activities.channels.http import post
from activities.settings import Settings, SettingsError
from workflows import search_attributes as sa
from workflows.audit_report import (
    ALERT_MISSED_DEADLINES,
    ALERT_REJECTED,
    FIND_MISSED_DEADLINES,
    AuditQuery,
    AuditReport,
    MissedDeadline,
)

DEFAULT_GRACE_SECONDS = 120.0
# One report travels through workflow history; a fleet this far behind needs the UI, not a longer list.
REPORT_LIMIT = 500
MISSED_DEADLINES_METRIC = "supportflow_audit_missed_deadlines"


def grace_seconds(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    raw = env.get("SUPPORTFLOW_AUDIT_GRACE_SECONDS", "").strip()
    if not raw:
        return DEFAULT_GRACE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise SettingsError(f"SUPPORTFLOW_AUDIT_GRACE_SECONDS={raw!r}: expected a number of seconds, 0 or more")
    return value


def missed_deadline_query(cutoff_rfc3339: str) -> str:
    """Open cases whose earliest unmet deadline is before the cutoff; NextDueAt skips met, breached and paused clocks."""
    return (
        f"WorkflowType = 'SupportCase' AND ExecutionStatus = 'Running' AND {sa.NEXT_DUE_AT.name} < '{cutoff_rfc3339}'"
    )


class FleetAuditor:
    """The audit's activities; they hold the Temporal client the visibility query needs."""

    def __init__(self, client: Client):
        self.client = client

    @activity.defn(name=FIND_MISSED_DEADLINES)
    async def find_missed_deadlines(self, audit: AuditQuery) -> AuditReport:
        try:
            grace = grace_seconds()
        except SettingsError as problem:
            raise ApplicationError(str(problem), type="InvalidSetting", non_retryable=True) from None
        cutoff = (audit.as_of - timedelta(seconds=grace)).astimezone(UTC)
        query = missed_deadline_query(cutoff.isoformat().replace("+00:00", "Z"))
        missed: list[MissedDeadline] = []
        truncated = False
        async for execution in self.client.list_workflows(query, limit=REPORT_LIMIT + 1):
            if len(missed) == REPORT_LIMIT:
                truncated = True
                break
            missed.append(_missed(execution.id, execution.typed_search_attributes))
        activity.logger.info("audit: %d open case(s) past a deadline with no breach (%s)", len(missed), query)
        return AuditReport(
            audit_id=audit.audit_id,
            as_of=audit.as_of,
            grace_seconds=grace,
            query=query,
            missed=missed,
            truncated=truncated,
        )

    @activity.defn(name=ALERT_MISSED_DEADLINES)
    async def alert(self, report: AuditReport) -> str:
        info = activity.info()
        if info.attempt == 1:  # a retried webhook must not count the same cases twice
            counter = activity.metric_meter().create_counter(
                MISSED_DEADLINES_METRIC, "open cases the fleet audit found past a deadline with no breach recorded"
            )
            for tenant, count in _per_tenant(report).items():
                counter.add(count, {"tenant": tenant})
        activity.logger.warning(
            "audit: %d case(s) missed a deadline: %s", len(report.missed), ", ".join(m.case_id for m in report.missed)
        )
        webhook = os.environ.get("SUPPORTFLOW_AUDIT_WEBHOOK", "").strip()
        if not webhook:
            return "metric and log only (SUPPORTFLOW_AUDIT_WEBHOOK is not set)"
        try:
            settings = Settings.from_env()
            response = await post(
                webhook,
                idempotency_key=f"{report.audit_id}:alert",
                settings=settings,
                json=report.model_dump(mode="json"),
            )
        except SettingsError as problem:
            raise ApplicationError(str(problem), type=ALERT_REJECTED, non_retryable=True) from None
        except DeliveryFailed as failure:
            raise ApplicationError(
                f"audit webhook: {failure.error}",
                type=ALERT_REJECTED if not failure.retryable else "AlertUnavailable",
                non_retryable=not failure.retryable,
                next_retry_delay=failure.retry_after,
            ) from None
        return f"webhook answered HTTP {response.status_code}"


def _missed(case_id: str, found) -> MissedDeadline:
    due = found.get(sa.NEXT_DUE_AT)
    target = None
    if due == found.get(sa.RESPONSE_DUE_AT):
        target = "response"
    elif due == found.get(sa.RESOLUTION_DUE_AT):
        target = "resolution"
    elif due is not None:
        target = "emergency"  # the one clock without an attribute of its own
    return MissedDeadline(
        case_id=case_id,
        tenant=found.get(sa.CASE_TENANT),
        severity=found.get(sa.CASE_SEVERITY),
        state=found.get(sa.CASE_STATE),
        due_at=due,
        target=target,
    )


def _per_tenant(report: AuditReport) -> dict[str, int]:
    counts: dict[str, int] = {}
    for missed in report.missed:
        counts[missed.tenant or "unknown"] = counts.get(missed.tenant or "unknown", 0) + 1
    return counts
