"""Deliveries inside a ladder: retried with one idempotency key, a permanent
failure recorded once, and neither ever holding up the next step."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from case_fixtures import blockit_request, events

CHICAGO = ZoneInfo("America/Chicago")
MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=CHICAGO)
SEV1_RESPONSE_DUE = MONDAY_10 + timedelta(minutes=30)
TEAM_CHAT = "/chat/support-team"


async def test_an_endpoint_failing_twice_then_succeeding_gets_the_page_once_with_one_idempotency_key(case_env):
    case_env.http.script(TEAM_CHAT, 503, 503, 200)
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(1, MONDAY_10))
    await case_env.skip_to(MONDAY_10 + timedelta(minutes=23))  # the response warning pages the team's chat
    attempts = await case_env.http.wait_for(3, TEAM_CHAT)
    assert [a.status for a in attempts] == [503, 503, 200]
    assert len({a.headers["idempotency-key"] for a in attempts}) == 1
    assert attempts[0].headers["idempotency-key"] == f"{case.id}:response_warning:1:1:1:support-team:chat"
    status = await case_env.status(case)
    (sent,) = [e for e in events(status, "notification_sent") if e.detail["ladder"] == "response_warning"]
    assert sent.detail["attempts"] == 3
    await case_env.keep_history(case, "blockit_delivery_retried")


async def test_a_400_is_not_retried_and_the_ladder_goes_on_to_its_next_step(case_env):
    case_env.http.script(TEAM_CHAT, 400, 400)
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(1, MONDAY_10))
    await case_env.skip_to(SEV1_RESPONSE_DUE + timedelta(minutes=16))
    status = await case_env.status(case)
    assert len(case_env.http.requests_to(TEAM_CHAT)) == 2, "one request for the warning, one for the breach: no retries"
    failed = [e for e in events(status, "notification_failed") if e.detail["channel"] == "chat"]
    assert [e.detail["attempts"] for e in failed] == [1, 1]
    assert all("400" in e.detail["last_error"] for e in failed)
    step2 = [
        e for e in events(status, "step_started") if e.detail["ladder"] == "response_breach" and e.detail["step"] == 2
    ]
    assert step2, "the failed chat did not stop the ladder"
    assert {p["contact"] for p in case_env.pages("response_breach")} >= {"support-lead"}


async def test_an_unreachable_endpoint_never_delays_the_breach(case_env):
    case_env.http.script(TEAM_CHAT, *([503] * 40))
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(1, MONDAY_10))
    await case_env.skip_to(SEV1_RESPONSE_DUE + timedelta(minutes=1))
    status = await case_env.status(case)
    (breach,) = events(status, "breach")
    assert timedelta(0) <= breach.at - SEV1_RESPONSE_DUE < timedelta(seconds=1)
    assert not [
        e
        for e in events(status, "notification_sent")
        if e.detail.get("contact") == "support-team" and e.detail["channel"] == "chat"
    ]


async def test_acknowledging_cancels_the_pending_deliveries_of_the_stopped_ladder(case_env):
    case_env.http.script(TEAM_CHAT, *([503] * 40))
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(1, MONDAY_10))
    await case_env.skip_to(SEV1_RESPONSE_DUE + timedelta(minutes=2))
    acknowledged = await case_env.update(case, "acknowledge", {"by": "support-lead"})
    assert acknowledged.escalation.outcome == "acknowledged"
    await case_env.skip_to(SEV1_RESPONSE_DUE + timedelta(minutes=5))
    status = await case_env.status(case)
    cancelled = [e for e in events(status, "notification_failed") if "cancelled" in e.detail.get("last_error", "")]
    assert {e.detail["ladder"] for e in cancelled} == {"response_breach"}


async def test_closing_completes_the_case_even_while_a_message_to_the_requester_is_still_retrying(case_env):
    case_env.smtp.script(*(["451 4.3.0 try again later"] * 200))
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(3, MONDAY_10))
    await case_env.skip_to(MONDAY_10 + timedelta(minutes=5))
    await case_env.update(case, "close", {"reason": "duplicate of another case"})
    final = await case.result()
    assert final.state == "closed"
    (ack,) = [e for e in events(final, "notification_failed") if e.detail["ladder"] == "requester_ack"]
    assert ack.detail["last_error"] == "cancelled: the case closed"


async def test_a_warning_whose_deadline_has_already_passed_is_not_paged(case_env):
    late = MONDAY_10 + timedelta(hours=5)
    await case_env.skip_to(late)
    case = await case_env.open(blockit_request(1, MONDAY_10))  # received five hours ago: both Sev 1 deadlines passed
    status = await case_env.settled(case)
    assert status.breaches == ["response", "resolution"]
    assert status.warnings == [] and not events(status, "warning")
    assert "response_warning" not in {e.detail["ladder"] for e in events(status, "ladder_started")}
