"""A webhook outage of 10 minutes of case time, first refusing connections and then answering 503, costs no
page and no deadline: every page is delivered after recovery (with backoff, the attempts in the timeline),
and the response breach that falls inside the outage is recorded on time.

Case time on the time-skipping test server; the receiver is really stopped (connections refused) and then
really answers 503, so the delivery's own classification runs on each attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from receivers import HttpReceiver, Reply
from reliability_support import timeline_events, write_drill_policy

from workflows.contracts import CaseRequest, Requester

T0 = datetime(2030, 1, 7, 15, 0, tzinfo=UTC)
WARNING_AT = T0 + timedelta(minutes=22, seconds=30)  # 0.75 of the 30-minute Sev 1 response target
RESPONSE_DUE = T0 + timedelta(minutes=30)
OUTAGE_STARTS = T0 + timedelta(minutes=22)
SERVICE_UNAVAILABLE_FROM = OUTAGE_STARTS + timedelta(minutes=5)
RECOVERS = OUTAGE_STARTS + timedelta(minutes=10)
# Every delivery that started during the outage, by (ladder, step, contact).
PAGES = {
    ("response_warning", 1, "first-responder"),
    ("response_breach", 1, "first-responder"),
    ("response_breach", 1, "slow-pager"),
    ("response_breach", 2, "team-lead"),
}


async def refuses_connections(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.post(url)
    except httpx.ConnectError:
        return True
    return False


async def test_a_ten_minute_webhook_outage_delays_pages_until_recovery_and_never_the_breach(case_env, policies):
    async with HttpReceiver() as endpoint:
        write_drill_policy(policies, endpoint)
        await case_env.skip_to(T0)
        case = await case_env.open(
            CaseRequest(
                tenant="drill",
                channel="api",
                requester=Requester(name="Ana Diaz", email="ana@clinic.example"),
                subject="Scheduling page down",
                description="Every clinic sees an error page.",
                severity=1,
                received_at=T0,
            )
        )
        await case_env.settled(case)

        await case_env.skip_to(OUTAGE_STARTS)
        await endpoint.stop()
        assert await refuses_connections(endpoint.url("/webhook/first-responder"))
        await case_env.skip_to(SERVICE_UNAVAILABLE_FROM)
        assert not endpoint.requests, "the endpoint was down"

        endpoint.default = Reply(503, json={"error": "maintenance"})
        await endpoint.start()
        await case_env.skip_to(RECOVERS)
        endpoint.default = Reply(200, json={"ok": True})
        recovered_at = await case_env.now()
        unavailable = [r for r in endpoint.requests if r.status == 503]
        assert {r.status for r in endpoint.requests} == {503}, "something was delivered during the outage"

        await case_env.skip_to(RECOVERS + timedelta(minutes=3))
        status = await case_env.status(case)

    sent = {
        (e.detail["ladder"], e.detail["step"], e.detail["contact"]): e
        for e in timeline_events(status, "notification_sent")
    }
    assert set(sent) >= PAGES, f"pages missing after recovery: {PAGES - set(sent)}"
    assert not timeline_events(status, "notification_failed"), "a page was given up on"
    delivered = [r for r in endpoint.requests if r.status == 200]
    keys = {r.headers["idempotency-key"] for r in delivered}
    assert len(delivered) == len(keys) == len(PAGES), "each page reached the endpoint exactly once"
    for key in keys:
        assert {r.status for r in endpoint.requests if r.headers["idempotency-key"] == key} == {503, 200}

    (breach,) = timeline_events(status, "breach", target="response")
    assert timedelta(0) <= breach.at - RESPONSE_DUE < timedelta(seconds=1), f"breach recorded at {breach.at}"
    (step2,) = timeline_events(status, "step_started", ladder="response_breach", step=2)
    assert timedelta(0) <= step2.at - (RESPONSE_DUE + timedelta(minutes=1)) < timedelta(seconds=1), (
        "the ladder waited for deliveries"
    )

    print(
        f"\noutage: connections refused {OUTAGE_STARTS:%H:%M}-{SERVICE_UNAVAILABLE_FROM:%H:%M} case time, "
        f"HTTP 503 until {RECOVERS:%H:%M} ({len(unavailable)} attempts answered 503)"
    )
    print(f"breach due {RESPONSE_DUE:%H:%M:%S}, recorded {breach.at:%H:%M:%S.%f}")
    recovery = {page: sent[page].at - recovered_at for page in sorted(PAGES)}
    refused = {}
    for page in sorted(PAGES):
        attempts = sent[page].detail["attempts"]
        ladder, step, contact = page
        key = f"{case.id}:{ladder}:1:1:{step}:{contact}:webhook"
        seen = [r for r in endpoint.requests if r.headers["idempotency-key"] == key]
        refused[page] = attempts - len(seen)
        print(
            f"  {'/'.join(map(str, page))}: delivered {recovery[page].total_seconds():.1f}s of case time after recovery, "
            f"on attempt {attempts} ({refused[page]} refused, {len(seen) - 1} answered 503)"
        )
    print(
        f"outage recovery time (case time from recovery to the last page delivered): {max(recovery.values()).total_seconds():.1f}s"
    )
    assert refused["response_warning", 1, "first-responder"] >= 5, (
        "the warning's page was tried while connections were refused"
    )
    for page in PAGES:
        assert sent[page].detail["attempts"] > 1
        assert timedelta(0) <= recovery[page] <= timedelta(seconds=61), "backoff is capped at 60 s"
