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

import hashlib
import uuid
from email.message import EmailMessage

import pytest
from gateway_fixtures import KEYS, PUBLIC_URL, Gateway, eventually, gateway  # noqa: F401
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from twilio.request_validator import RequestValidator

from starter.client import CaseNotFound, case_id, describe
from workflows.contracts import CaseRequest

SSN, DOB, MRN = "123-45-6789", "03/14/1962", "A7734521"
TWILIO_TOKEN = "twilio-test-token"  # what gateway_fixtures sets as TWILIO_AUTH_TOKEN
# The old `key=scope` form names a key by its hash (docs/security.md): the operate key's name.
OPERATE_KEY_NAME = "key-" + hashlib.sha256(KEYS["operate"].encode()).hexdigest()[:8]
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
    kinds = {event.event_type for event in history.events}
    started, worked = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    # The request as started, and at least one task the workflow ran on it (a case whose requester left no
    # address sends nothing, so its history can be that short).
    assert {started, worked} <= kinds and decoded, "the history is not what this test thinks it is"
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
    await settled(gateway, case)
    assert_no_phi(await raw_history(gateway, case), f"the raw history of {case}")


# --- every field of every route (issue 16): ids hashed, notes and names redacted, requester fields refused ---

ID_WITH_PHI = f"<SSN-{SSN}.MRN-{MRN}.DOB-{DOB.replace('/', '-')}-{{}}@clinic.example>"
URL_WITH_PHI = f"https://pbx.example/recordings/SSN-{SSN}/MRN-{MRN}/DOB-{DOB}/{{}}.wav"
REQUESTER_WITH_PHI = {
    "name": f"Ana Diaz SSN {SSN}",
    "email": f"{SSN}@clinic.example",
    "phone": f"DOB {DOB}",
    "company": with_phi("Clinic Co"),
    "building": f"Ward 4, MRN {MRN}",
}


def unique(template: str) -> str:
    return template.format(uuid.uuid4().hex[:12])


async def settled(gateway: Gateway, case: str) -> None:
    """Until the requester's acknowledgement has been delivered (or has failed): by then the history holds the
    opening, the first workflow tasks and the delivery activity's input, which quotes the request."""

    async def told():
        status = await gateway.status(case)
        return any(entry.event in ("acknowledgement_sent", "notification_failed") for entry in status.timeline)

    assert await eventually(told, timeout=30), f"{case} never told its requester"


async def opened_detail(gateway: Gateway, case: str) -> dict:
    status = await gateway.status(case)
    return next(entry.detail for entry in status.timeline if entry.event == "opened")


async def test_phi_in_every_field_of_an_asynchronous_json_request_never_reaches_the_raw_history(gateway: Gateway):
    """In-app messaging (asynchronous): requester fields with PHI are left out and noted, the rest redacted,
    the source id kept as its hash, and the same source id is still the same case."""
    body = {
        "tenant": "blockit",
        "channel": "messaging",
        "severity": 3,
        "source_id": unique(ID_WITH_PHI),
        "requester": REQUESTER_WITH_PHI,
        "subject": f"Chart for MRN {MRN}",
        "description": with_phi("In-app message about"),
        "existing_case": with_phi("the case about"),
        "worked_with": with_phi("Dr Lee, about"),
        "recording_url": unique(URL_WITH_PHI),
        "notes": [with_phi("a caller's own note about")],
    }
    opened = await gateway.post("/v1/cases", json=body)
    assert opened.status_code == 201, opened.text
    case = opened.json()["case_id"]
    again = await gateway.post("/v1/cases", json=body)
    assert (again.status_code, again.json()["case_id"]) == (200, case), "the same source id is no longer one case"

    await settled(gateway, case)
    status = await gateway.status(case)
    assert status.phi_redacted and status.requester.email is None and status.requester.name is None
    assert status.recording_url == "https://pbx.example/[redacted]"
    detail = await opened_detail(gateway, case)
    assert detail["source_id"].startswith("sha256:") and len(detail["source_id"]) == len("sha256:") + 64
    assert any("requester.name" in note and "not kept" in note for note in detail["notes"]), detail
    assert_no_phi(await raw_history(gateway, case), f"the raw history of {case}")


async def test_phi_in_a_requester_field_on_a_synchronous_channel_is_a_422_and_opens_nothing(gateway: Gateway):
    for field, value in REQUESTER_WITH_PHI.items():
        source = f"sync-{uuid.uuid4().hex}"
        requester = {"name": "Ana Diaz", "email": "ana@clinic.example"} | {field: value}
        body = {"tenant": "blockit", "channel": "api", "source_id": source, "requester": requester}
        answer = await gateway.post("/v1/cases", json=body | {"subject": "Chart", "description": "Blank chart."})
        assert answer.status_code == 422, f"{field}: {answer.status_code} {answer.text}"
        assert f"requester.{field}" in {problem["field"] for problem in answer.json()["fields"]}, answer.text
        assert SSN not in answer.text and MRN not in answer.text, "the refusal quotes the PHI back"
        would_be = case_id(CaseRequest(tenant="blockit", channel="api", source_id=source))
        with pytest.raises(CaseNotFound):
            await describe(gateway.client, would_be)
    chat = {"conversation_id": f"c-{uuid.uuid4().hex}", "name": f"Ana SSN {SSN}", "message": "Chart is blank"}
    answer = await gateway.post("/v1/intake/chat?tenant=blockit", json=chat | {"email": "ana@clinic.example"})
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "requester.name", answer.text
    form = {"name": "Ana Diaz", "email": "ana@clinic.example", "description": "Blank", "building": f"MRN {MRN}"}
    answer = await gateway.post("/v1/intake/web?tenant=blockit", data=form)
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "requester.building", answer.text


async def test_phi_in_every_part_of_an_email_never_reaches_the_raw_history_and_replies_still_thread(gateway: Gateway):
    first_id = unique(ID_WITH_PHI)
    mail = clinic_email(
        f"Chart for DOB {DOB}",
        with_phi("Cannot open the chart"),
        message_id=first_id,
        attachment_name=f"chart MRN {MRN} SSN {SSN}.pdf",
        Reply_To=f"Ana SSN {SSN} <ana@clinic.example>",
    )
    mail = f"Date: {with_phi('sent')}\n".encode() + mail  # EmailMessage would drop a Date that is no date
    headers = {"Content-Type": "message/rfc822"}
    opened = await gateway.post("/v1/intake/email?tenant=blockit", content=mail, headers=headers)
    assert opened.status_code == 201, opened.text
    case = opened.json()["case_id"]
    again = await gateway.post("/v1/intake/email?tenant=blockit", content=mail, headers=headers)
    assert (again.status_code, again.json()["case_id"]) == (200, case), "the same email is no longer one case"

    # Replies naming the first message (found through the hash of its id; one from an address holding an SSN),
    # and a reply to one of our own messages (found by our Message-ID), each delivered twice: three comments.
    ours = f"<{case}.0123456789abcdef@supportflow.invalid>"
    from_phi = clinic_email("Re: chart", "Also me.", message_id=unique(ID_WITH_PHI), In_Reply_To=first_id)
    from_phi = from_phi.replace(
        b"From: Ana Diaz <ana@clinic.example>", f"From: SSN {SSN} <{SSN}@clinic.example>".encode()
    )
    replies = [
        from_phi,
        clinic_email("Re: chart", with_phi("Still no chart for"), message_id=unique(ID_WITH_PHI), In_Reply_To=first_id),
        clinic_email("Re: chart", with_phi("And for"), message_id=unique(ID_WITH_PHI), References=f"{ours} {first_id}"),
    ]
    for reply in replies * 2:
        answer = await gateway.post("/v1/intake/email?tenant=blockit", content=reply, headers=headers)
        assert (answer.status_code, answer.json()["case_id"]) == (202, case), answer.text

    async def three_comments():
        status = await gateway.status(case)
        comments = [entry for entry in status.timeline if entry.event == "comment"]
        return comments if len(comments) >= 3 else None

    comments = await eventually(three_comments)
    assert len(comments) == 3, comments
    detail = await opened_detail(gateway, case)
    assert detail["source_id"].startswith("sha256:") and "Date header is not a date" in " ".join(detail["notes"])
    assert (await gateway.status(case)).requester.email == "ana@clinic.example"
    assert_no_phi(await raw_history(gateway, case), f"the raw history of {case}")


async def test_phi_in_every_field_of_a_voicemail_chat_and_web_form_never_reaches_the_raw_history(gateway: Gateway):
    conversation = unique(ID_WITH_PHI)
    routes = [
        (
            "/v1/intake/voicemail?tenant=blockit",
            {
                "json": {
                    "caller_number": f"SSN {SSN}",
                    "caller_name": with_phi("Ana Diaz"),
                    "transcription": with_phi("Calling about"),
                    "recording_url": unique(URL_WITH_PHI),
                    "extension": f"MRN {MRN}",
                }
            },
        ),
        (
            "/v1/intake/chat?tenant=blockit",
            {
                "json": {
                    "conversation_id": conversation,
                    "name": "Ana Diaz",
                    "email": "ana@clinic.example",
                    "message": with_phi("Help with"),
                    "transcript": [with_phi("Bot: anything else about"), with_phi("Ana: yes,")],
                }
            },
        ),
        (
            "/v1/intake/web?tenant=blockit&channel=help_button",
            {
                "data": {
                    "name": "Ana Diaz",
                    "email": "ana@clinic.example",
                    "subject": f"Booking for SSN {SSN}",
                    "description": with_phi("Help button about"),
                    "source_id": unique(ID_WITH_PHI),
                    "severity": "3",
                }
            },
        ),
    ]
    for path, options in routes:
        answer = await gateway.post(path, **options)
        assert answer.status_code == 201, f"{path}: {answer.status_code} {answer.text}"
        case = answer.json()["case_id"]
        await settled(gateway, case)
        detail = await opened_detail(gateway, case)
        assert detail["source_id"].startswith("sha256:"), (path, detail)
        assert (await gateway.status(case)).phi_redacted, path
        assert_no_phi(await raw_history(gateway, case), f"the raw history of the case {path} opened")
    repeat = await gateway.post("/v1/intake/chat?tenant=blockit", **routes[1][1])
    assert repeat.status_code == 200, "the same conversation is no longer one case"


async def test_phi_in_twilio_voice_callbacks_never_reaches_the_raw_history(gateway: Gateway):
    call_sid = "CA" + uuid.uuid4().hex
    caller = f"SSN {SSN}"

    async def callback(step: str, **fields: str) -> int:
        url = f"{PUBLIC_URL}/v1/twilio/voice/{step}?tenant=blockit"
        params = {"CallSid": call_sid, "AccountSid": "ACtest", "From": caller, "To": "+15555550100"} | fields
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        answer = await gateway.http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        return answer.status_code

    recording = f"https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/RE{uuid.uuid4().hex}/MRN-{MRN}"
    assert await callback("recorded", RecordingUrl=recording, RecordingDuration="42") == 200
    assert await callback("transcribed", TranscriptionStatus="completed", TranscriptionText=with_phi("About")) == 204
    case = case_id(CaseRequest(tenant="blockit", channel="voicemail", source_id=call_sid))

    async def amended():
        status = await gateway.status(case)
        return status if status.description else None

    status = await eventually(amended)
    assert status is not None and "[redacted]" in status.description and status.phi_redacted
    assert_no_phi(await raw_history(gateway, case), f"the raw history of {case}")


async def test_phi_in_every_update_argument_and_claimed_name_never_reaches_the_raw_history(gateway: Gateway):
    opened = await gateway.post(
        "/v1/cases",
        json={
            "tenant": "blockit",
            "channel": "api",
            "severity": 2,
            "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
            "subject": "Booking fails",
            "description": "The booking page fails.",
            "time_critical": True,  # the emergency_intake ladder runs, so there is a page to acknowledge
        },
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()["case_id"]
    claimed = with_phi("Dr Lee")
    comment_id = unique(ID_WITH_PHI)
    steps = [
        ("comment", {"author": claimed, "text": with_phi("About"), "source_id": comment_id}, 202),
        ("comment", {"author": claimed, "text": with_phi("About"), "source_id": comment_id}, 202),
        ("acknowledge", {"by": claimed}, 200),
        ("assign", {"to": claimed}, 200),
        ("respond", {"by": claimed, "message": with_phi("Looking at")}, 200),
        ("set_severity", {"severity": 3, "reason": with_phi("Lower for")}, 200),
        ("set_severity", {"severity": 2, "reason": with_phi("Higher again for")}, 200),
        ("request_emergency", {"reason": with_phi("Surgery for")}, 200),
        ("request_escalation", {"reason": with_phi("Escalate for")}, 409),
        ("pause", {"reason": with_phi("Waiting for")}, 200),
        ("resume", {}, 200),
        (
            "provide_workaround",
            {"by": claimed, "description": with_phi("Phone booking for"), "kind": "workaround"},
            200,
        ),
        (
            "amend",
            {"subject": with_phi("Subject"), "worked_with": with_phi("Dr Lee"), "existing_case": with_phi("")},
            200,
        ),
        ("amend", {"requester": {"name": f"Ana SSN {SSN}"}}, 422),
        ("resolve", {"by": claimed, "resolution": with_phi("Fixed for")}, 200),
        ("reopen", {"reason": with_phi("Still failing for")}, 200),
        ("close", {"reason": with_phi("Duplicate of the case about")}, 200),
    ]
    for name, body, expected in steps:
        scope = "intake" if name == "comment" else "operate"
        answer = await gateway.post(f"/v1/cases/{case}/{name}", scope=scope, json=body)
        assert answer.status_code == expected, f"{name}: {answer.status_code} {answer.text}"

    async def finished():
        return (await gateway.client.get_workflow_handle(case).describe()).status.name == "COMPLETED"

    assert await eventually(finished, timeout=90), "the closed case never completed"
    status = await gateway.status(case)
    assert len([entry for entry in status.timeline if entry.event == "comment"]) == 1, (
        "a repeated comment counted twice"
    )
    acknowledged = next(entry.detail for entry in status.timeline if entry.event == "acknowledged")
    assert "[redacted]" in acknowledged["by"] and acknowledged["actor"] == {"kind": "key", "name": OPERATE_KEY_NAME}
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
