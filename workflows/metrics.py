"""The case's own Prometheus metrics, emitted through the workflow's metric meter
(which stays silent during replay, so a replayed breach is never counted twice)."""

from datetime import timedelta

from temporalio import workflow


def case_opened(tenant: str, channel: str) -> None:
    workflow.metric_meter().create_counter(
        "supportflow_cases_opened", "Cases opened, by tenant and intake channel", "cases"
    ).add(1, {"tenant": tenant, "channel": channel})


def breach(tenant: str, target: str, lateness: timedelta) -> None:
    """Lateness is when the breach was recorded minus the deadline: Temporal's timer latency plus ours."""
    meter = workflow.metric_meter()
    labels = {"tenant": tenant, "target": target}
    meter.create_counter("supportflow_breaches", "SLA breaches, by tenant and target", "breaches").add(1, labels)
    meter.create_histogram_timedelta("supportflow_breach_lateness", "Breach recorded minus deadline", "ms").record(
        lateness, labels
    )


def ladder_step(tenant: str, ladder: str, skipped: bool) -> None:
    workflow.metric_meter().create_counter("supportflow_ladder_steps", "Escalation ladder steps reached", "steps").add(
        1, {"tenant": tenant, "ladder": ladder, "outcome": "skipped" if skipped else "started"}
    )
