"""BluB0X's support process: regular requests wait for business hours, the
emergency line pages the on-call list one person at a time, and the customer
escalation ladder follows the seed's four steps."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from case_fixtures import blub0x_request, events
from test_blockit_lifecycle import on_time

EASTERN = ZoneInfo("America/New_York")
SATURDAY_10 = datetime(2030, 1, 12, 10, 0, tzinfo=EASTERN)
SATURDAY_2AM = datetime(2030, 1, 12, 2, 0, tzinfo=EASTERN)
MONDAY_8 = datetime(2030, 1, 14, 8, 0, tzinfo=EASTERN)
TUESDAY_14 = datetime(2030, 1, 15, 14, 0, tzinfo=EASTERN)


async def test_blub0x_regular_request_on_saturday_starts_its_clock_monday_0800_eastern(case_env):
    await case_env.skip_to(SATURDAY_10)
    case = await case_env.open(blub0x_request("email", SATURDAY_10))
    opened = await case_env.status(case)
    assert opened.severity == 2 and opened.severity_name == "Regular"
    assert opened.response_due_at == MONDAY_8 + timedelta(hours=4), "4 business hours, counted from Monday 08:00"

    await case_env.skip_to(MONDAY_8)
    monday = await case_env.status(case)
    assert monday.warnings == [] and monday.breaches == [], "nothing fires over the weekend"
    assert not case_env.pages("emergency_intake"), "a regular request never pages on-call"

    await case_env.skip_to(MONDAY_8 + timedelta(hours=3, minutes=1))
    warned = await case_env.status(case)
    assert warned.warnings == ["response"]
    (warning,) = events(warned, "warning")
    assert on_time(warning.at, MONDAY_8 + timedelta(hours=3))


async def test_blub0x_time_critical_email_at_night_does_not_page(case_env):
    await case_env.skip_to(SATURDAY_2AM)
    case = await case_env.open(blub0x_request("email", SATURDAY_2AM, time_critical=True))
    await case_env.skip_to(SATURDAY_2AM + timedelta(minutes=30))
    status = await case_env.status(case)
    skipped = events(status, "step_skipped")
    assert skipped and all(e.detail["ladder"] == "emergency_intake" for e in skipped)
    assert not case_env.pages("emergency_intake"), "the seed requires a phone call for after-hours help"


async def test_blub0x_after_hours_emergency_line_pages_oncall_one_at_a_time_until_someone_acknowledges(case_env):
    await case_env.skip_to(SATURDAY_2AM)
    case = await case_env.open(blub0x_request("emergency_line", SATURDAY_2AM))
    opened = await case_env.status(case)
    assert opened.severity == 1 and opened.response_due_at == SATURDAY_2AM + timedelta(minutes=30)

    await case_env.twilio.wait_for(2)
    first = await case_env.status(case)
    paged = [(p["contact"], p["channel"]) for p in case_env.pages("emergency_intake")]
    assert sorted(paged) == [("oncall-1", "sms"), ("oncall-1", "voice")], "only the first on-call engineer at first"
    assert first.escalation.ladder == "emergency_intake" and first.escalation.step == 1

    await case_env.skip_to(SATURDAY_2AM + timedelta(minutes=5, seconds=30))
    await case_env.twilio.wait_for(4)
    assert {p["contact"] for p in case_env.pages("emergency_intake")} == {"oncall-1", "oncall-2"}

    await case_env.skip_to(SATURDAY_2AM + timedelta(minutes=7))
    acknowledged = await case_env.update(case, "acknowledge", {"by": "oncall-2"})
    assert acknowledged.escalation.running == []
    assert acknowledged.escalation.outcome == "acknowledged"
    assert acknowledged.escalation.acknowledged_by == "oncall-2"

    await case_env.skip_to(SATURDAY_2AM + timedelta(minutes=25))
    after = await case_env.status(case)
    assert {p["contact"] for p in case_env.pages("emergency_intake")} == {"oncall-1", "oncall-2"}, (
        "oncall-3 is never paged"
    )
    later_steps = [e for e in events(after, "step_started") if e.at > acknowledged.timeline[-1].at]
    assert not [e for e in later_steps if e.detail["ladder"] == "emergency_intake"]
    assert after.warnings == ["response"], "acknowledging stops the paging, not the 30-minute response clock"
    await case_env.keep_history(case, "blub0x_emergency_line_acknowledged")


async def test_blub0x_emergency_line_with_nobody_answering_repeats_the_rotation(case_env):
    await case_env.skip_to(SATURDAY_2AM)
    case = await case_env.open(blub0x_request("emergency_line", SATURDAY_2AM))
    await case_env.skip_to(SATURDAY_2AM + timedelta(minutes=15, seconds=30))
    status = await case_env.status(case)
    rounds = {(e.detail["round"]) for e in events(status, "step_started") if e.detail["ladder"] == "emergency_intake"}
    assert rounds == {1, 2}, "three engineers at 5 minutes each, then the list starts again"
    await case_env.update(case, "respond", {"by": "oncall-1", "message": "Calling you back now"})
    responded = await case_env.status(case)
    assert responded.escalation.running == [] and responded.escalation.outcome == "responded"


async def escalate(case_env, new_installation: bool, at: datetime = TUESDAY_14):
    await case_env.skip_to(at)
    case = await case_env.open(blub0x_request("help_button", at))
    await case_env.update(case, "assign", {"to": "oncall-1"})
    asked = await case_env.update(
        case, "request_escalation", {"reason": "Doors still offline after a day", "new_installation": new_installation}
    )
    assert asked.escalation.ladder == "customer_escalation" and asked.escalation.step == 1
    await case_env.skip_to(at + timedelta(hours=2))
    if at == TUESDAY_14:
        await case_env.keep_history(case, f"blub0x_customer_escalation_new_installation_{new_installation}".lower())
    return await case_env.status(case)


async def test_blub0x_customer_escalation_without_new_installation_skips_step_4_and_ends(case_env):
    status = await escalate(case_env, new_installation=False)
    ladder = [
        e
        for e in status.timeline
        if e.event in ("step_started", "step_skipped") and e.detail["ladder"] == "customer_escalation"
    ]
    assert [(e.event, e.detail["step"]) for e in ladder] == [
        ("step_started", 1),
        ("step_started", 2),
        ("step_started", 3),
        ("step_skipped", 4),
    ]
    assert on_time(ladder[1].at, TUESDAY_14 + timedelta(minutes=15))
    assert on_time(ladder[2].at, TUESDAY_14 + timedelta(minutes=15 + 2 * 5)), (
        "in business hours step 2 calls the support line (Ext. 2): its two engineers, 5 minutes each"
    )
    called = {p["contact"] for p in case_env.pages("customer_escalation") if p["step"] == 2}
    assert called == {"support-engineer-1", "support-engineer-2"}, "Ext. 6's on-call list is for after hours"
    contacts = {p["contact"] for p in case_env.pages("customer_escalation")}
    assert "director-support-operations" in contacts and "vp-professional-services" not in contacts
    assert status.escalation.outcome == "exhausted", "'go to Step 5' ends the ladder"


async def test_blub0x_customer_escalation_step_4_calls_the_vp_only_for_new_installations(case_env):
    status = await escalate(case_env, new_installation=True)
    assert status.new_installation is True
    steps = [e.detail["step"] for e in events(status, "step_started") if e.detail["ladder"] == "customer_escalation"]
    assert steps == [1, 2, 3, 4]
    vp = {p["channel"] for p in case_env.pages("customer_escalation") if p["contact"] == "vp-professional-services"}
    assert vp == {"voice", "sms", "email"}


async def test_blub0x_customer_escalation_after_hours_calls_the_on_call_engineers_at_step_2(case_env):
    status = await escalate(case_env, new_installation=False, at=SATURDAY_2AM)
    started = [e for e in events(status, "step_started") if e.detail["ladder"] == "customer_escalation"]
    assert [e.detail["step"] for e in started] == [1, 2, 3]
    assert on_time(started[2].at, SATURDAY_2AM + timedelta(minutes=15 + 3 * 5)), (
        "after hours step 2 is Ext. 6: the three on-call engineers, one at a time, 5 minutes each"
    )
    called = [p["contact"] for p in case_env.pages("customer_escalation") if p["step"] == 2]
    assert sorted(called) == ["oncall-1", "oncall-2", "oncall-3"] and all(
        p["channel"] == "voice" for p in case_env.pages("customer_escalation") if p["step"] == 2
    )


async def test_blub0x_a_requester_update_reaches_the_assignee_and_the_team_and_an_engineer_note_does_not(case_env):
    await case_env.skip_to(TUESDAY_14)
    request = blub0x_request("email", TUESDAY_14)
    case = await case_env.open(request)
    await case_env.update(case, "assign", {"to": "support-engineer-1"})
    await case.signal("comment", {"author": "support-engineer-1", "text": "Looking at the controllers now."})
    await case_env.skip_to(TUESDAY_14 + timedelta(minutes=5))
    assert case_env.pages("requester_update") == [], "an engineer's own note is not a requester update"

    await case.signal("comment", {"author": request.requester.email, "text": "The lobby doors are still locked."})
    await case_env.skip_to(TUESDAY_14 + timedelta(minutes=10))
    sent = {(p["contact"], p["channel"]) for p in case_env.pages("requester_update")}
    assert sent == {("support-engineer-1", "email"), ("support-team", "email"), ("support-team", "webhook")}, (
        "the update goes to more than just the assigned engineer"
    )
    status = await case_env.status(case)
    assert status.escalation.ladder != "requester_update", "a requester update does not change the escalation"
    assert status.state == "open"
