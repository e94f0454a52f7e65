"""DESIGN's rules for changing a case: pause credit, severity changes,
immediate breaches, and updates that are refused without touching the case."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from case_fixtures import blockit_request, blub0x_request, events
from support import eventually
from temporalio.client import WorkflowUpdateFailedError

from workflows.contracts import CaseStatus, Requester

CHICAGO = ZoneInfo("America/Chicago")
MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=CHICAGO)
SEV3_RESOLUTION_DUE = datetime(2030, 1, 12, 10, 0, tzinfo=CHICAGO)


def about(moment: datetime, expected: datetime) -> bool:
    """Paused time is measured in workflow time, which the test server advances to the millisecond, not exactly."""
    return abs(moment - expected) < timedelta(seconds=1)


async def test_waiting_on_customer_credits_the_paused_day_to_the_resolution_clock(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    await case_env.update(case, "respond", {"by": "eng-3"})
    await case_env.skip_to(MONDAY_10 + timedelta(hours=2))
    paused = await case_env.update(case, "pause", {"reason": "waiting for a screenshot"})
    assert paused.state == "waiting_on_customer" and paused.paused
    assert paused.resolution_due_at == SEV3_RESOLUTION_DUE

    await case_env.skip_to(MONDAY_10 + timedelta(hours=26))
    still = await case_env.status(case)
    assert still.resolution_due_at == SEV3_RESOLUTION_DUE, "while paused the deadline keeps its value"

    resumed = await case_env.update(case, "resume", {})
    assert resumed.state == "responded" and not resumed.paused
    assert about(resumed.resolution_due_at, SEV3_RESOLUTION_DUE + timedelta(hours=24))
    assert resumed.response_due_at == datetime(2030, 1, 7, 11, 0, tzinfo=CHICAGO), "the response clock never pauses"
    await case_env.keep_history(case, "blockit_pause_resume")


async def test_a_requester_comment_resumes_a_case_waiting_on_the_customer(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    await case_env.update(case, "pause", {})
    await case_env.skip_to(MONDAY_10 + timedelta(hours=3))
    await case.signal("comment", {"author": "engineer@blockit.example", "text": "Any news?"})
    assert (await case_env.status(case)).paused, "only the requester's reply resumes the case"
    await case.signal("comment", {"author": "ana@clinic.example", "text": "Here is the screenshot"})
    for _ in range(50):
        status = await case_env.status(case)
        if not status.paused:
            break
    assert status.state == "open" and not status.paused
    assert about(status.resolution_due_at, SEV3_RESOLUTION_DUE + timedelta(hours=3))
    assert [e.detail["author"] for e in events(status, "comment")] == ["engineer@blockit.example", "ana@clinic.example"]


async def test_severity_change_recomputes_from_received_at_and_a_passed_deadline_breaches_at_once(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(4, MONDAY_10))
    await case_env.skip_to(MONDAY_10 + timedelta(minutes=45))
    raised = await case_env.update(case, "set_severity", {"severity": 1, "reason": "whole clinic is down"})
    assert raised.severity == 1 and raised.severity_name == "Critical"
    assert raised.response_due_at == MONDAY_10 + timedelta(minutes=30), "recomputed from received_at, not from now"
    assert raised.resolution_due_at == MONDAY_10 + timedelta(hours=4)
    assert raised.breaches == ["response"], "the new response deadline had already passed"
    assert raised.warnings == [], "a warning whose moment has passed does not fire"
    (changed,) = events(raised, "severity_changed")
    assert changed.detail == {"from": 4, "to": 1, "reason": "whole clinic is down"}
    assert "response_breach" in raised.escalation.running

    lowered = await case_env.update(case, "set_severity", {"severity": 4})
    assert lowered.breaches == ["response"], "a recorded breach is never removed"
    await case_env.keep_history(case, "blockit_severity_change")


async def test_amend_fills_what_an_asynchronous_intake_left_missing(case_env):
    eastern = ZoneInfo("America/New_York")
    night = datetime(2030, 1, 12, 23, 0, tzinfo=eastern)
    await case_env.skip_to(night)
    voicemail = blub0x_request("voicemail", night, requester=Requester(phone="+15555550177"), description="Gate stuck")
    case = await case_env.open(voicemail)
    await case_env.twilio.wait_for(2)  # the acknowledgement and the request for the missing details, by SMS
    opened = await eventually(lambda: _with_event(case_env, case, "missing_requested"))
    assert opened.missing == ["requester.name", "requester.company", "requester.building", "requester.email"]
    assert events(opened, "missing_requested")[0].detail["channel"] == "sms"
    amended = await case_env.update(
        case, "amend", {"requester": {"name": "Pat Kim", "company": "Gate Co", "email": "pat@gate.example"}}
    )
    assert amended.missing == ["requester.building"]
    assert amended.requester.phone == "+15555550177" and amended.requester.name == "Pat Kim"


async def _with_event(case_env, case, event: str):
    """The status once `event` is in the timeline (a message is recorded when it was delivered), else None."""
    status = await case_env.status(case)
    return status if events(status, event) else None


REFUSED_ON_AN_OPEN_CASE = [
    ("reopen", {"reason": "again"}, "cannot reopen: the case is open"),
    ("resume", {}, "cannot resume: the case is open, not waiting_on_customer"),
    ("acknowledge", {"by": "eng"}, "no escalation ladder is running"),
    ("set_severity", {"severity": 3}, "already severity 3"),
    ("set_severity", {"severity": 9}, "has no severity 9"),
    ("close", {}, "resolve it first, or give a reason"),
    ("request_escalation", {"reason": "faster please"}, "no customer_escalation ladder"),
]


@pytest.mark.parametrize(
    ("update", "args", "reason"),
    REFUSED_ON_AN_OPEN_CASE,
    ids=[f"{u}-{i}" for i, (u, _, _) in enumerate(REFUSED_ON_AN_OPEN_CASE)],
)
async def test_an_illegal_update_is_rejected_with_its_reason_and_the_case_is_unchanged(case_env, update, args, reason):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    before = await case_env.settled(case)
    message = await case_env.rejection(case, update, args)
    assert reason in message
    assert (await case_env.status(case)).model_dump() == before.model_dump()


async def test_an_update_with_a_wrong_field_is_rejected_and_the_case_is_unchanged(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    before = await case_env.settled(case)
    for args in ({"by": "eng", "colour": "red"}, {"by": ""}, {"message": "no author"}):
        with pytest.raises(WorkflowUpdateFailedError):
            await case.execute_update("respond", args, result_type=CaseStatus)
    assert (await case_env.status(case)).model_dump() == before.model_dump()


async def test_a_closed_case_refuses_everything_but_still_answers_status(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    await case_env.update(case, "close", {"reason": "spam"})
    final = await case.result()
    assert final.state == "closed" and events(final, "closed")[0].detail == {"reason": "spam"}


async def test_reopen_runs_the_resolution_clock_again_with_the_resolved_time_credited(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    await case_env.update(case, "resolve", {"by": "eng", "resolution": "restarted"})
    await case_env.skip_to(MONDAY_10 + timedelta(hours=48))
    reopened = await case_env.update(case, "reopen", {"reason": "it came back"})
    assert reopened.state == "responded", "resolving counted as the first response"
    assert about(reopened.resolution_due_at, SEV3_RESOLUTION_DUE + timedelta(hours=48))
    assert reopened.resolved_at is None
