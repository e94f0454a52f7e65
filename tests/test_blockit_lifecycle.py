"""blockit's severity table, end to end on the time-skipping server: every
severity warns, breaches, escalates, is answered, resolved and closed."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from case_fixtures import blockit_request, events

CHICAGO = ZoneInfo("America/Chicago")
MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=CHICAGO)  # a Monday, inside business hours

# severity: (response due, resolution due), read straight off the seed's table.
TARGETS = {
    1: (datetime(2030, 1, 7, 10, 30, tzinfo=CHICAGO), datetime(2030, 1, 7, 14, 0, tzinfo=CHICAGO)),
    2: (datetime(2030, 1, 7, 11, 0, tzinfo=CHICAGO), datetime(2030, 1, 9, 10, 0, tzinfo=CHICAGO)),
    3: (datetime(2030, 1, 7, 11, 0, tzinfo=CHICAGO), datetime(2030, 1, 12, 10, 0, tzinfo=CHICAGO)),
    4: (datetime(2030, 1, 10, 10, 0, tzinfo=CHICAGO), datetime(2030, 1, 17, 10, 0, tzinfo=CHICAGO)),
}


def on_time(fired: datetime, moment: datetime) -> bool:
    """Workflow time when a timer fired: the test server fires a few milliseconds after the moment, never before."""
    return timedelta(0) <= fired - moment < timedelta(seconds=1)


@pytest.mark.parametrize("severity", [1, 2, 3, 4])
async def test_blockit_severity_warns_breaches_escalates_then_resolves_and_closes(case_env, severity):
    started = time.perf_counter()
    response_due, resolution_due = TARGETS[severity]
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(severity, MONDAY_10))

    opened = await case_env.status(case)
    assert opened.response_due_at == response_due
    assert opened.resolution_due_at == resolution_due
    assert opened.state == "open"

    # Past the response deadline and the whole response_breach ladder (15m + 15m).
    await case_env.skip_to(response_due + timedelta(minutes=31))
    late = await case_env.status(case)
    assert late.warnings == ["response"] and late.breaches == ["response"]
    (breach,) = events(late, "breach")
    assert breach.detail == {
        "target": "response",
        "due_at": response_due.isoformat(),
        "lateness_seconds": breach.detail["lateness_seconds"],
    }
    assert on_time(breach.at, response_due)
    (warning,) = [w for w in events(late, "warning") if w.detail["target"] == "response"]
    assert warning.at < response_due
    steps = [(e.detail["ladder"], e.detail["step"]) for e in events(late, "step_started")]
    assert ("response_warning", 1) in steps
    assert ("response_breach", 1) in steps and ("response_breach", 2) in steps
    step2 = next(
        e for e in events(late, "step_started") if e.detail == {"ladder": "response_breach", "step": 2, "round": 1}
    )
    assert on_time(step2.at, response_due + timedelta(minutes=15))
    assert {(p["contact"], p["channel"]) for p in case_env.pages("response_breach")} == {
        ("support-team", "chat"),
        ("support-team", "email"),
        ("support-lead", "sms"),
        ("support-lead", "voice"),
    }
    assert late.escalation.outcome == "exhausted" and late.escalation.step == 0

    answered = await case_env.update(case, "respond", {"by": "eng-1", "message": "Looking into it now."})
    assert answered.state == "responded" and answered.responded_at is not None
    assert answered.breaches == ["response"], "a recorded breach is never removed"

    await case_env.skip_to(resolution_due + timedelta(minutes=1))
    overdue = await case_env.status(case)
    assert overdue.breaches == ["response", "resolution"]
    assert "resolution_breach" in {e.detail["ladder"] for e in events(overdue, "ladder_started")}

    resolved = await case_env.update(case, "resolve", {"by": "eng-1", "resolution": "Fixed in release 4.2"})
    assert resolved.state == "resolved" and resolved.escalation.running == []
    closed = await case_env.update(case, "close", {})
    assert closed.state == "closed"
    final = await case.result()
    assert final.state == "closed" and len(events(final, "closed")) == 1
    await case_env.keep_history(case, f"blockit_sev{severity}_lifecycle")
    print(f"\nblockit Sev{severity} lifecycle: {time.perf_counter() - started:.2f}s wall")


async def test_blockit_resolved_case_closes_itself_after_seven_days(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    await case_env.update(case, "resolve", {"by": "eng-1", "resolution": "Cleared the cache"})
    final = await case.result()
    assert final.state == "closed"
    (closed,) = events(final, "closed")
    assert on_time(closed.at, final.resolved_at + timedelta(days=7))


async def test_a_case_started_with_its_policy_records_no_marker_loads_nothing_and_upserts_once_per_task(case_env):
    """What keeps a case lean on the server (docs/benchmarks.md): a Sev 1 case through breach, both ladder
    steps, respond, resolve and close, started with its policy as `start_case` starts it, records no patch
    marker, runs no activity but deliveries, and never upserts its search attributes twice in one task."""
    from temporalio.api.enums.v1 import EventType

    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(1, MONDAY_10))
    await case_env.skip_to(TARGETS[1][0] + timedelta(minutes=31))
    for update, args in (
        ("respond", {"by": "eng-1"}),
        ("resolve", {"by": "eng-1", "resolution": "Fixed"}),
        ("close", {}),
    ):
        await case_env.update(case, update, args)
    await case.result()
    history = await case.fetch_history()

    markers = [
        e.marker_recorded_event_attributes for e in history.events if e.HasField("marker_recorded_event_attributes")
    ]
    assert markers == []
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert set(scheduled) == {"deliver", "archive_case"}
    assert scheduled.count("archive_case") == 2 and scheduled[-1] == "archive_case", "opening row, then final row"

    upserts_per_task = Counter(
        e.upsert_workflow_search_attributes_event_attributes.workflow_task_completed_event_id
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
        and set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        != {"TemporalChangeVersion"}
    )
    assert len(upserts_per_task) >= 5, "breach, step 2, respond, resolve and close each publish something"
    assert max(upserts_per_task.values()) == 1, upserts_per_task
