"""blockit asks its customers to avoid PHI, and some will send it anyway: an SSN, a date of birth and a
medical record number, written into every free-text field a requester or an engineer can reach, never
reach the case's Temporal history, whatever way they come in.

The check reads the RAW history: every event's protobuf wire bytes (which hold every string Temporal
stores: failure messages, summaries, search attributes, headers) and every payload decoded, through the
client's codec if one is configured, so an encrypted history is searched for what it would decrypt to.
It complements tests/test_gateway_admission.py (JSON intake, comment, respond, one email) with every
other intake route, every free-text update, an email reply, and the notifications the worker sends.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage

from gateway_fixtures import Gateway, eventually, gateway  # noqa: F401
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

SSN, DOB, MRN = "123-45-6789", "03/14/1962", "A7734521"
PHI = (SSN, DOB, MRN, "1962-03-14", "March 14, 1962")


def with_phi(what: str) -> str:
    """Each identifier the way people write them: labelled, in running text."""
    return f"{what}: patient SSN {SSN}, DOB {DOB} (born 1962-03-14), MRN {MRN}; date of birth March 14, 1962."


async def raw_history(gateway: Gateway, case_id: str) -> bytes:
    """Everything Temporal stores for the case, as bytes: each event on the wire, and each payload decoded."""
    payloads: list[Payload] = []

    def collect(message: Message) -> None:
        if isinstance(message, Payload):
            payloads.append(message)
            return
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            items = (
                [value]
                if isinstance(value, Message)
                else list(value.values())
                if hasattr(value, "values")
                else list(value)
            )
            for item in items:
                if isinstance(item, Message):
                    collect(item)

    history = await gateway.client.get_workflow_handle(case_id).fetch_history()
    wire = [event.SerializeToString() for event in history.events]
    for event in history.events:
        collect(event)
    codec = gateway.client.data_converter.payload_codec
    decoded = await codec.decode(payloads) if codec else payloads
    assert len(history.events) > 10 and decoded, "the history is not what this test thinks it is"
    return b"\n".join(wire + [payload.data for payload in decoded])


def assert_no_phi(haystack: bytes, where: str) -> None:
    for secret in PHI:
        assert secret.encode() not in haystack, f"{secret!r} reached {where}"


def clinic_email(
    subject: str, body: str, *, message_id: str, attachment_name: str | None = None, **headers: str
) -> bytes:
    message = EmailMessage()
    message["From"] = "Ana Diaz <ana@clinic.example>"
    message["To"] = "support@blockit.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if attachment_name:
        message.add_attachment(b"%PDF-1.4 chart", maintype="application", subtype="pdf", filename=attachment_name)
    return message.as_bytes()


async def test_phi_in_every_field_of_a_worked_blockit_case_never_reaches_its_raw_history(gateway: Gateway):
    opened = await gateway.post(
        "/v1/cases",
        json={
            "tenant": "blockit",
            "channel": "api",
            "severity": 2,
            "source_id": f"phi-{uuid.uuid4().hex}",
            "requester": {"name": "Ana Diaz", "email": "ana@clinic.example", "company": "Clinic Co"},
            "subject": f"Booking fails for MRN {MRN}",
            "description": with_phi("Cannot book"),
        },
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()["case_id"]

    def update(name: str, body: dict, scope: str = "operate"):
        return gateway.post(f"/v1/cases/{case}/{name}", scope=scope, json=body)

    steps = [
        ("comment", {"author": "ana@clinic.example", "text": with_phi("Also")}, "intake"),
        ("respond", {"by": "eng-1", "message": with_phi("Looking at")}, "operate"),
        ("pause", {"reason": with_phi("Waiting for the chart of")}, "operate"),
        ("comment", {"author": "ana@clinic.example", "text": with_phi("Here is the chart of")}, "intake"),
        ("amend", {"subject": f"Booking fails, MRN {MRN}", "description": with_phi("Updated")}, "operate"),
        ("provide_workaround", {"by": "eng-1", "description": with_phi("Book by phone for")}, "operate"),
        ("request_emergency", {"reason": with_phi("Surgery tomorrow for")}, "operate"),
        ("resolve", {"by": "eng-1", "resolution": with_phi("Fixed the booking of")}, "operate"),
        ("reopen", {"reason": with_phi("Still failing for")}, "operate"),
        ("close", {"reason": with_phi("Duplicate of another case about")}, "operate"),
    ]
    for name, body, scope in steps:
        answer = await update(name, body, scope)
        assert answer.status_code in (200, 202), f"{name}: {answer.status_code} {answer.text}"

    async def finished():
        return (await gateway.client.get_workflow_handle(case).describe()).status.name == "COMPLETED"

    assert await eventually(finished, timeout=90), "the closed case never completed"
    status = await gateway.status(case)
    assert status.state == "closed" and status.phi_redacted
    recorded = {e.event for e in status.timeline}
    assert {
        "comment",
        "responded",
        "paused",
        "resumed",
        "amended",
        "workaround_provided",
        "emergency_requested",
        "resolved",
        "reopened",
        "closed",
    } <= recorded
    history = await raw_history(gateway, case)
    assert b"Cannot book" in history and b"[redacted]" in history, "the search would not find plain text"
    assert_no_phi(history, f"the raw history of {case}")


async def test_phi_through_every_intake_route_and_an_email_reply_never_reaches_the_raw_history(gateway: Gateway):
    first_id = f"<{uuid.uuid4().hex}@clinic.example>"
    routes = {
        "email": (
            "/v1/intake/email?tenant=blockit",
            {
                "content": clinic_email(
                    f"Chart for DOB {DOB}",
                    with_phi("Cannot open the chart"),
                    message_id=first_id,
                    attachment_name=f"chart MRN {MRN}.pdf",
                ),
                "headers": {"Content-Type": "message/rfc822"},
            },
        ),
        "voicemail": (
            "/v1/intake/voicemail?tenant=blockit",
            {
                "json": {
                    "caller_number": "+15555550123",
                    "caller_name": "Ana Diaz",
                    "transcription": with_phi("Calling about"),
                }
            },
        ),
        "chat": (
            "/v1/intake/chat?tenant=blockit",
            {
                "json": {
                    "conversation_id": f"conv-{uuid.uuid4().hex}",
                    "name": "Ana Diaz",
                    "email": "ana@clinic.example",
                    "message": with_phi("Help with"),
                    "transcript": ["Bot: how can I help?", with_phi("Ana: it is about")],
                }
            },
        ),
        "web": (
            "/v1/intake/web?tenant=blockit",
            {
                "data": {
                    "name": "Ana Diaz",
                    "email": "ana@clinic.example",
                    "subject": f"Booking for SSN {SSN}",
                    "description": with_phi("Web form about"),
                }
            },
        ),
    }
    cases = {}
    for channel, (path, options) in routes.items():
        answer = await gateway.post(path, **options)
        assert answer.status_code == 201, f"{channel}: {answer.status_code} {answer.text}"
        cases[channel] = answer.json()["case_id"]

    reply = clinic_email(
        f"Re: Chart for DOB {DOB}",
        with_phi("Still no chart for"),
        message_id=f"<{uuid.uuid4().hex}@clinic.example>",
        In_Reply_To=first_id,
        References=first_id,
    )
    answer = await gateway.post(
        "/v1/intake/email?tenant=blockit", content=reply, headers={"Content-Type": "message/rfc822"}
    )
    assert answer.status_code == 202 and answer.json()["case_id"] == cases["email"], answer.text

    for channel, case in cases.items():
        status = await gateway.status(case)
        assert status.phi_redacted, f"{channel}: nothing was redacted"
        if channel == "email":
            assert any(e.event == "comment" for e in status.timeline), "the reply was not recorded"
        assert_no_phi(await raw_history(gateway, case), f"the raw history of the {channel} case")


async def test_phi_in_worked_with_never_reaches_the_raw_history(gateway: Gateway):
    opened = await gateway.post(
        "/v1/cases",
        json={
            "tenant": "blockit",
            "channel": "api",
            "source_id": f"phi-{uuid.uuid4().hex}",
            "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
            "subject": "Chart access",
            "description": "The chart page is blank.",
            "worked_with": f"Dr Lee, about SSN {SSN}",
        },
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()["case_id"]
    amended = await gateway.post(
        f"/v1/cases/{case}/amend", scope="operate", json={"worked_with": f"Dr Lee, about MRN {MRN}"}
    )
    assert amended.status_code == 200, amended.text
    assert_no_phi(await raw_history(gateway, case), f"the raw history of {case}")


async def test_phi_never_reaches_the_notifications_the_worker_sends(gateway: Gateway):
    """Runs last in this module: every message the cases above sent (acknowledgements, replies, pages)."""

    async def delivered():
        return len(gateway.smtp.messages) >= 5 or None

    await eventually(delivered, timeout=20)
    sent = [mail.raw for mail in gateway.smtp.attempts]
    sent += [request.body for request in gateway.hooks.requests + gateway.twilio.requests]
    assert sent, "no notification was sent"
    assert_no_phi(b"\n".join(sent), "a notification")
