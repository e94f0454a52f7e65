"""The development outbox (DESIGN "Development outbox", Decision 8): every delivery goes through its real channel
code to the stand-ins the gateway hosts, and is kept once per idempotency key with how its delivery went.

Real parts throughout: the dev server, the production worker, the gateway on a real port with its aiosmtpd
server, and the shipped policies, whose `*.example` chat and webhook URLs never leave the machine.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from outbox_fixtures import KEYS, OutboxStack, outbox_env, outbox_stack, serve_gateway  # noqa: F401
from receivers import listener_on
from support import eventually, start_case

from activities.outbox import AttemptReport
from activities.settings import Settings
from signed_links import verify_ack_token
from starter.devserver import free_port
from starter.outbox.store import Captured, OutboxStore
from workflows.contracts import CaseRequest, Delivery, Requester

TOWER = {
    "name": "Sam Lee",
    "email": "sam.lee@tower.example",
    "phone": "+15555550142",
    "company": "Tower Co",
    "building": "Tower One",
}


async def open_case(stack: OutboxStack, body: dict) -> str:
    answer = await stack.post("/v1/cases", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


async def rows_until(stack: OutboxStack, case_id: str, wanted) -> list[dict]:
    """The case's outbox once `wanted(rows)` holds."""

    async def check():
        rows = await stack.outbox(case_id)
        return rows if wanted(rows) else None

    rows = await eventually(check, timeout=30)
    assert rows, f"the outbox never showed what was expected: {await stack.outbox(case_id)}"
    return rows


def one(rows: list[dict], **fields) -> dict:
    found = [row for row in rows if all(row[name] == value for name, value in fields.items())]
    assert len(found) == 1, (fields, rows)
    return found[0]


def finished(rows: list[dict], *wanted: tuple[str, str, str]) -> bool:
    """Every (ladder, contact, channel) is there and its delivery has ended."""
    ended = {(r["ladder"], r["contact"], r["channel"]) for r in rows if r["outcome"] != "retrying"}
    return all(item in ended for item in wanted)


async def test_every_channel_reaches_its_stand_in_and_is_listed_with_its_ack_link(outbox_stack: OutboxStack):
    stack = outbox_stack
    emergency = await open_case(
        stack,
        {
            "tenant": "blub0x",
            "channel": "emergency_line",
            "requester": TOWER,
            "subject": "Lobby doors will not unlock",
            "description": "The lobby doors stay locked and badges are refused.",
        },
    )
    escalated = await stack.post(
        f"/v1/cases/{emergency}/request_escalation", scope="operate", json={"reason": "Residents are locked out"}
    )
    assert escalated.status_code == 200, escalated.text
    received = (datetime.now(UTC) - timedelta(minutes=40)).isoformat()
    breached = await open_case(
        stack,
        {
            "tenant": "blockit",
            "channel": "api",
            "requester": {"name": "Ana Diaz", "email": "ana.diaz@clinic.example"},
            "subject": "Scheduling page down",
            "description": "Every clinic sees 'Service unavailable'.",
            "severity": 1,
            "received_at": received,
        },
    )

    rows = await rows_until(
        stack,
        emergency,
        lambda rows: finished(
            rows,
            ("emergency_intake", "oncall-1", "voice"),
            ("emergency_intake", "oncall-1", "sms"),
            ("requester_ack", "requester", "email"),
            ("customer_escalation", "support-team", "webhook"),
            ("customer_escalation", "support-team", "email"),
        ),
    )
    voice = one(rows, ladder="emergency_intake", channel="voice")
    sms = one(rows, ladder="emergency_intake", channel="sms")
    for page in (voice, sms):
        assert page["to"] == "+15555550201" and page["contact"] == "oncall-1" and page["step"] == 1
        assert (page["outcome"], page["attempts"], page["error"]) == ("delivered", 1, None)
        assert "Lobby doors will not unlock" in page["body"]
        assert page["ack_url"].startswith(f"{stack.url}/v1/ack/")
        claim = verify_ack_token(
            page["ack_url"].rsplit("/", 1)[1], datetime.now(UTC), Settings.from_env().secret("ack")
        )
        assert (claim.case_id, claim.contact) == (emergency, "oncall-1")
    assert page["ack_url"] in sms["body"], "the SMS itself carries the link"
    webhook = one(rows, ladder="customer_escalation", channel="webhook")
    assert webhook["to"] == "https://hooks.example/blub0x/support-team", "listed under the address it was meant for"
    assert webhook["subject"] and "Lobby doors will not unlock" in webhook["body"]
    ack = one(rows, ladder="requester_ack")
    assert ack["to"] == TOWER["email"] and emergency in ack["subject"] and ack["ack_url"] is None
    assert all(row["case_id"] == emergency for row in rows)
    assert [row["at"] for row in rows] == sorted((row["at"] for row in rows), reverse=True), "newest first"
    assert len({row["idempotency_key"] for row in rows}) == len(rows)

    rows = await rows_until(stack, breached, lambda rows: finished(rows, ("response_breach", "support-team", "chat")))
    chat = one(rows, ladder="response_breach", channel="chat")
    assert chat["to"] == "https://chat.example/hooks/blockit-support" and chat["outcome"] == "delivered"
    assert "Scheduling page down" in chat["body"] and chat["ack_url"] in chat["body"]

    listed = await stack.get("/v1/outbox", params={"limit": 2})
    assert listed.status_code == 200 and len(listed.json()) == 2


async def test_a_delivery_that_fails_shows_its_reason_in_the_outbox_and_the_timeline(outbox_stack: OutboxStack):
    """A night caller left a number Twilio cannot text: the acknowledgement SMS fails, and both records say why."""
    stack = outbox_stack
    case_id = await open_case(
        stack,
        {
            "tenant": "blub0x",
            "channel": "phone",
            "requester": {"name": "Night caller", "phone": "555-0100"},
            "subject": "Garage gate stuck open",
            "description": "The garage gate will not close.",
        },
    )

    async def timeline_failure():
        status = await stack.status(case_id)
        return next(
            (
                entry
                for entry in status.timeline
                if entry.event == "notification_failed" and entry.detail.get("ladder") == "requester_ack"
            ),
            None,
        )

    entry = await eventually(timeline_failure, timeout=30)
    assert entry is not None, "the timeline records the failed acknowledgement"
    # The worker told the outbox before it told the workflow, so the outbox already has the same reason.
    failed = one(await stack.outbox(case_id), ladder="requester_ack", channel="sms")
    assert failed["to"] == "555-0100" and failed["outcome"] == "failed" and failed["attempts"] == 1
    assert "Invalid 'To' Phone Number: 555-0100" in failed["error"] and "HTTP 400" in failed["error"]
    assert entry.detail["last_error"] == failed["error"] and entry.detail["attempts"] == 1


async def test_a_retried_delivery_appears_once_with_every_attempt_counted(
    outbox_stack: OutboxStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """The outbox was down when the case opened (a gateway restart): each delivery is retried, then kept once."""
    stack = outbox_stack
    port, smtp_port = free_port(), free_port()
    outbox_env(monkeypatch, port, smtp_port)
    monkeypatch.setenv("SUPPORTFLOW_OUTBOX_FILE", str(tmp_path / "restarted.sqlite"))
    request = CaseRequest(
        tenant="blub0x",
        channel="emergency_line",
        requester=Requester(**TOWER),
        subject="Elevator lobby dark",
        description="No power to the lobby lights.",
    )
    opened = await start_case(stack.client, request)

    async def failed_once():
        pending = (await opened.handle.describe()).raw_description.pending_activities
        return len(pending) >= 3 and all(activity.attempt >= 2 for activity in pending)

    assert await eventually(failed_once, timeout=30), (
        "every delivery failed its first attempt while the outbox was down"
    )
    async with serve_gateway(stack.client, listener_on(port)):  # down until now, on purpose
        restarted = OutboxStack(f"http://127.0.0.1:{port}", stack.client, None, smtp_port)
        wanted = (
            ("emergency_intake", "oncall-1", "voice"),
            ("emergency_intake", "oncall-1", "sms"),
            ("requester_ack", "requester", "email"),
        )

        async def sent_entries():
            timeline = (await restarted.status(opened.case_id)).timeline
            # The acknowledgement to the requester is recorded as `acknowledgement_sent` once delivered.
            sent = {
                (
                    e.detail.get("ladder", "requester_ack"),
                    e.detail.get("contact", "requester"),
                    e.detail["channel"],
                ): e.detail["attempts"]
                for e in timeline
                if e.event in ("notification_sent", "acknowledgement_sent") and "attempts" in e.detail
            }
            return sent if all(item in sent for item in wanted) else None

        sent = await eventually(sent_entries, timeout=30)
        assert sent, "the timeline records each delivery once it went through"
        rows = await restarted.outbox(opened.case_id)
    for ladder, contact, channel in wanted:
        row = one(rows, ladder=ladder, contact=contact, channel=channel)
        assert row["outcome"] == "delivered" and row["error"] is None
        assert row["attempts"] >= 2 and row["attempts"] == sent[(ladder, contact, channel)]


async def test_the_outbox_api_needs_operate_and_names_a_bad_filter(outbox_stack: OutboxStack):
    stack = outbox_stack
    async with httpx.AsyncClient(base_url=stack.url) as http:
        assert (await http.get("/v1/outbox")).status_code == 401
    assert (await stack.get("/v1/outbox", scope="intake")).status_code == 403
    for params, field in (({"case_id": "not a case"}, "case_id"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")):
        answer = await stack.get("/v1/outbox", params=params)
        assert answer.status_code == 422, answer.text
        assert [problem["field"] for problem in answer.json()["fields"]] == [field]
    page = await httpx.AsyncClient(base_url=stack.url).get("/outbox", params={"case_id": "not a case"})
    assert page.status_code == 422 and "case_id" in page.text


async def test_the_outbox_page_and_stand_ins_answer_only_this_machine(outbox_stack: OutboxStack):
    elsewhere = httpx.ASGITransport(app=outbox_stack.app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://gateway.test") as http:
        assert (await http.get("/outbox")).status_code == 403
        hook = await http.post("/outbox/hooks", params={"to": "https://x.example/h"}, json={"text": "forged"})
        assert hook.status_code == 403
    async with httpx.AsyncClient(base_url=outbox_stack.url) as http:
        page = await http.get("/outbox")
    assert page.status_code == 200 and "Development outbox" in page.text


async def test_a_live_gateway_has_no_outbox(monkeypatch: pytest.MonkeyPatch, outbox_stack: OutboxStack):
    monkeypatch.setenv("SUPPORTFLOW_DELIVERY", "live")
    listener = listener_on()
    port = listener.getsockname()[1]
    async with serve_gateway(outbox_stack.client, listener):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            listed = await http.get("/v1/outbox", headers={"Authorization": f"Bearer {KEYS['operate']}"})
            assert listed.status_code == 404 and "delivers live" in listed.json()["error"]
            assert (await http.get("/outbox")).status_code == 404
            assert (await http.post("/outbox/hooks", params={"to": "https://x.example"}, json={})).status_code == 404


def _delivery(key: str, channel: str = "email") -> Delivery:
    case_id, ladder, _, _, step, contact, _ = key.split(":")
    return Delivery(
        case_id=case_id,
        tenant="blub0x",
        ladder=ladder,
        step=int(step),
        contact=contact,
        channel=channel,
        address="oncall1@blub0x.example",
        case_channel="email",
        subject="Sev1 · Lobby doors",
        message="The lobby doors stay locked.",
        idempotency_key=key,
    )


def test_the_store_keeps_one_row_per_key_whichever_side_reports_first(tmp_path: Path):
    store = OutboxStore(tmp_path / "outbox.sqlite")
    key = "case-blub0x-abc:emergency_intake:1:1:1:oncall-1:email"
    store.report(AttemptReport(delivery=_delivery(key), attempt=1, outcome="retrying", error="SMTP 451 try later"))
    store.capture(Captured(key, "email", "oncall1@blub0x.example", "Sev1 · Lobby doors", "as received"))
    store.report(AttemptReport(delivery=_delivery(key), attempt=2, outcome="delivered", ack_url="http://g/v1/ack/t"))
    late = AttemptReport(delivery=_delivery(key), attempt=1, outcome="retrying", error="a stale report")
    store.report(late)
    other = "case-blub0x-abc:requester_ack:0:0:0:requester:email"
    store.capture(Captured(other, "email", "sam@tower.example", "Received", "We have your request"))
    (row, *_), everything = store.messages("case-blub0x-abc", limit=1), store.messages()
    assert row.idempotency_key == other, "newest first"
    kept = next(message for message in everything if message.idempotency_key == key)
    assert (kept.outcome, kept.attempts, kept.error) == ("delivered", 2, None)
    assert (kept.body, kept.ack_url, kept.contact, kept.step) == ("as received", "http://g/v1/ack/t", "oncall-1", 1)
    assert len(everything) == 2
    store.close()
    assert (tmp_path / "outbox.sqlite").stat().st_mode & 0o777 == 0o600
    assert len(OutboxStore(tmp_path / "outbox.sqlite").messages()) == 2, "kept across a restart"


async def test_a_sign_in_link_lands_in_the_outbox_and_a_stranger_gets_nothing(outbox_stack: OutboxStack):
    stack = outbox_stack
    email = "jo.park@campus.example"
    case_id = await open_case(
        stack,
        {
            "tenant": "blub0x",
            "channel": "help_button",
            "requester": {**TOWER, "email": email},
            "subject": "Visitor badges print blank",
            "description": "Since the new printers.",
        },
    )

    async def listed():  # the sign-in lookup goes through visibility
        return [w async for w in stack.client.list_workflows(f"WorkflowId = '{case_id}'")]

    assert await eventually(listed)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        form = await http.get("/portal/sign-in", params={"tenant": "blub0x"})
        assert "href='/outbox'" in form.text, "the development banner points at the outbox"
        for address in (email, "stranger@campus.example"):
            answer = await http.post("/portal/sign-in", params={"tenant": "blub0x"}, data={"email": address})
            assert answer.status_code == 200
    await asyncio.gather(*list(stack.app.state.portal_sign_ins))  # the lookups and emails that follow the answer
    rows = await rows_until(stack, case_id, lambda rows: finished(rows, ("portal_link", "requester", "email")))
    link = one(rows, ladder="portal_link")
    assert link["to"] == email and "/portal/login?token=" in link["body"] and link["outcome"] == "delivered"
    async with httpx.AsyncClient(base_url=stack.url) as http:
        page = (await http.get("/outbox", params={"case_id": case_id})).text
    assert "Open the portal link" in page, "the sign-in link is one click away on the outbox page"
    everything = (await stack.get("/v1/outbox", params={"limit": 1000})).json()
    assert not [row for row in everything if row["to"] == "stranger@campus.example"]
