"""blockit's interim options for Severity 2-3: a workaround or data correction
meets the resolution target, and emergency maintenance is due 48 hours after
the customer asks for it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from case_fixtures import blockit_request, events
from test_blockit_lifecycle import on_time

CHICAGO = ZoneInfo("America/Chicago")
MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=CHICAGO)
SEV2_RESOLUTION_DUE = datetime(2030, 1, 9, 10, 0, tzinfo=CHICAGO)


async def test_blockit_sev2_workaround_before_the_deadline_meets_the_resolution_target(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(2, MONDAY_10))
    await case_env.skip_to(MONDAY_10 + timedelta(minutes=20))
    worked_around = await case_env.update(
        case, "provide_workaround", {"by": "eng-2", "description": "Book from the calendar view", "kind": "workaround"}
    )
    assert worked_around.state == "workaround_provided"
    assert worked_around.responded_at is not None, "a workaround is also the first response"
    (entry,) = events(worked_around, "workaround_provided")
    assert entry.detail["meets_resolution_target"] is True

    await case_env.skip_to(SEV2_RESOLUTION_DUE + timedelta(hours=1))
    later = await case_env.status(case)
    assert later.breaches == [], "the workaround met the resolution target, so the 2-day clock never breaches"
    assert not case_env.pages("resolution_breach")
    assert later.next_due_at is None


async def test_blockit_sev2_late_data_correction_keeps_the_breach_but_stops_the_resolution_ladder(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(2, MONDAY_10))
    await case_env.update(case, "respond", {"by": "eng-2"})
    await case_env.skip_to(SEV2_RESOLUTION_DUE + timedelta(minutes=5))
    breached = await case_env.status(case)
    assert breached.breaches == ["resolution"] and "resolution_breach" in breached.escalation.running

    corrected = await case_env.update(
        case, "provide_workaround", {"by": "eng-2", "description": "Fixed the rows", "kind": "data_correction"}
    )
    assert corrected.breaches == ["resolution"]
    assert corrected.escalation.running == []
    (ended,) = [e for e in events(corrected, "ladder_ended") if e.detail["ladder"] == "resolution_breach"]
    assert ended.detail["outcome"] == "resolved"


async def test_blockit_sev2_emergency_maintenance_is_due_48_hours_after_the_request(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(2, MONDAY_10))
    await case_env.update(case, "provide_workaround", {"by": "eng-2", "description": "Use the old form"})
    asked_at = MONDAY_10 + timedelta(hours=3)
    await case_env.skip_to(asked_at)
    asked = await case_env.update(case, "request_emergency", {"reason": "The workaround failed for our front desk"})
    assert on_time(asked.emergency_requested_at, asked_at)
    assert asked.emergency_due_at == asked.emergency_requested_at + timedelta(hours=48)
    assert asked.state == "workaround_provided", "asking for emergency maintenance does not undo the workaround"
    await case_env.smtp.wait_for(2)  # the acknowledgement, then the emergency_request page's email
    await case_env.twilio.wait_for(1)  # and its voice call, which may land after the email
    assert {(p["contact"], p["channel"]) for p in case_env.pages("emergency_request")} == {
        ("support-lead", "voice"),
        ("support-lead", "email"),
    }

    refused = await case_env.rejection(case, "request_emergency", {"reason": "again"})
    assert "already requested" in refused

    await case_env.skip_to(asked.emergency_due_at + timedelta(minutes=1))
    overdue = await case_env.status(case)
    assert overdue.warnings == ["emergency"] and overdue.breaches == ["emergency"]
    (warning,) = events(overdue, "warning")
    assert on_time(warning.at, asked.emergency_requested_at + timedelta(hours=36))
    assert case_env.pages("emergency_breach")
    await case_env.keep_history(case, "blockit_sev2_workaround_then_emergency")


async def test_blockit_resolving_meets_the_emergency_target(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(2, MONDAY_10))
    await case_env.update(case, "request_emergency", {"reason": "Front desk cannot book"})
    await case_env.skip_to(MONDAY_10 + timedelta(hours=30))
    resolved = await case_env.update(case, "resolve", {"by": "eng-2", "resolution": "Patched"})
    await case_env.skip_to(MONDAY_10 + timedelta(hours=50))
    after = await case_env.status(case)
    assert "emergency" not in after.breaches
    assert resolved.escalation.running == []


async def test_blockit_sev1_has_no_emergency_target_so_the_request_is_refused(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(1, MONDAY_10))
    before = await case_env.settled(case)
    refused = await case_env.rejection(case, "request_emergency", {"reason": "please"})
    assert "severity 1 (Critical) has no emergency target" in refused
    assert (await case_env.status(case)).model_dump() == before.model_dump()
