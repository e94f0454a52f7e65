"""Every intake route with realistic payloads, on the real dev server and the production worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from gateway_fixtures import Gateway, eventually, gateway  # noqa: F401

from workflows.contracts import CaseStatus

EASTERN = ZoneInfo("America/New_York")


def clinic_email(
    subject: str,
    text: str | None,
    html: str | None = None,
    *,
    attachment: bytes | None = None,
    message_id: str | None = None,
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = "Ana Diaz <ana@clinic.example>"
    message["To"] = "support@blockit.example"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2020, 1, 2, 3, 4, tzinfo=UTC))
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@clinic.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html, subtype="html")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename="error-report.pdf")
    return message.as_bytes()


async def post_email(gateway: Gateway, raw: bytes, tenant: str = "blockit"):
    return await gateway.post(
        f"/v1/intake/email?tenant={tenant}", content=raw, headers={"Content-Type": "message/rfc822"}
    )


def events(status: CaseStatus, name: str) -> list:
    return [entry for entry in status.timeline if entry.event == name]


# --- email -------------------------------------------------------------------


async def test_a_multipart_email_with_html_and_an_attachment_opens_a_case_clocked_from_receipt(gateway: Gateway):
    before = datetime.now(UTC)
    raw = clinic_email(
        "Scheduling page down",
        "The scheduling page shows an error since 9am.\nPractice: Northside Clinic.",
        "<html><body><p>The scheduling page shows an <b>error</b> since 9am.</p></body></html>",
        attachment=b"%PDF-1.4 fake report" * 50,
    )
    answer = await post_email(gateway, raw)
    assert answer.status_code == 201, answer.text
    opened = answer.json()
    assert opened["duplicate"] is False and opened["case_id"].startswith("case-blockit-")
    assert opened["status_url"] == f"http://gateway.test/v1/cases/{opened['case_id']}"
    status = await gateway.status(opened["case_id"])
    assert status.channel == "email" and status.subject == "Scheduling page down"
    assert status.requester.email == "ana@clinic.example" and status.requester.name == "Ana Diaz"
    assert status.missing == []
    # The Date: header says 2020; the SLA clock starts when the gateway received the mail.
    assert before - timedelta(seconds=1) <= status.received_at <= datetime.now(UTC)
    opened_detail = events(status, "opened")[0].detail
    assert any("Date header" in note for note in opened_detail["notes"])


async def test_an_html_only_email_becomes_readable_text(gateway: Gateway):
    raw = clinic_email("Reports are blank", None, "<div>Every report is <i>blank</i>.<br>Since the update.</div>")
    answer = await post_email(gateway, raw)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]
    history = await gateway.history_text(case_id)
    assert "Every report is blank." in history and "<i>" not in history


async def test_a_reply_to_an_open_case_is_a_comment_on_it(gateway: Gateway):
    first_id = f"<{uuid.uuid4().hex}@clinic.example>"
    opened = await post_email(gateway, clinic_email("Login fails", "Nobody can log in.", message_id=first_id))
    case_id = opened.json()["case_id"]

    reply = clinic_email("Re: Login fails", "Still failing this morning.", In_Reply_To=first_id, References=first_id)
    answer = await post_email(gateway, reply)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"case_id": case_id, "comment": True}

    # A reply to our own outbound mail (the acknowledgement) threads by its Message-ID.
    async def acknowledgement():
        return [m for m in gateway.smtp.messages if case_id in (m.message["Message-ID"] or "")]

    ours = (await eventually(acknowledgement))[0].message["Message-ID"]
    second = clinic_email("Re: [case] Login fails", "Here is the screenshot you asked for.", In_Reply_To=ours)
    answer = await post_email(gateway, second)
    assert answer.status_code == 202 and answer.json()["case_id"] == case_id
    again = await post_email(gateway, second)  # the mail system hands the same reply over twice
    assert again.status_code == 202 and again.json()["case_id"] == case_id

    comments = [e.detail["text"] for e in events(await gateway.status(case_id), "comment")]
    assert comments == ["Still failing this morning.", "Here is the screenshot you asked for."]


async def test_a_reply_to_a_closed_case_opens_a_new_case_naming_the_old_one(gateway: Gateway):
    first_id = f"<{uuid.uuid4().hex}@clinic.example>"
    old = (
        await post_email(gateway, clinic_email("Printer queue", "Labels do not print.", message_id=first_id))
    ).json()["case_id"]
    closed = await gateway.post(f"/v1/cases/{old}/close", scope="operate", json={"reason": "duplicate"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"

    async def finished():
        return (await gateway.client.get_workflow_handle(old).describe()).status.name == "COMPLETED"

    assert await eventually(finished)
    answer = await post_email(gateway, clinic_email("Re: Printer queue", "It is back.", In_Reply_To=first_id))
    assert answer.status_code == 201, answer.text
    new = answer.json()["case_id"]
    assert new != old
    history = await gateway.history_text(new)
    assert f'"existing_case":"{old}"' in history.replace(" ", "")


async def test_an_email_without_a_sender_is_a_422_naming_from(gateway: Gateway):
    answer = await post_email(gateway, b"Subject: hello\r\n\r\nno sender here\r\n")
    assert answer.status_code == 422
    assert answer.json()["fields"][0]["field"] == "from"


async def test_email_needs_the_rfc822_content_type(gateway: Gateway):
    answer = await gateway.post(
        "/v1/intake/email?tenant=blockit",
        content=b"From: a@b.example\r\n\r\nhi",
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 415


# --- voicemail -----------------------------------------------------------------


def last_night() -> datetime:
    """The most recent 23:50 Eastern: BluB0X is closed then."""
    now = datetime.now(EASTERN)
    night = now.replace(hour=23, minute=50, second=0, microsecond=0)
    return night if night <= now else night - timedelta(days=1)


async def test_a_night_voicemail_to_extension_6_without_email_opens_an_emergency_line_case(gateway: Gateway):
    body = {
        "caller_number": "(555) 555-0142",
        "caller_name": "Sam Lee",
        "transcription": "This is Sam at Tower One. Every door controller in the lobby is offline. Please call back.",
        "recording_url": f"https://pbx.example/recordings/{uuid.uuid4().hex}.wav",
        "extension": 6,
        "received_at": last_night().isoformat(),
    }
    answer = await gateway.post("/v1/intake/voicemail?tenant=blub0x", json=body)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]

    async def asked_for_the_rest():  # recorded once the SMS went out, never before
        status = await gateway.status(case_id)
        return status if events(status, "missing_requested") else None

    status = await eventually(asked_for_the_rest)
    assert status, "the request for the missing details was never delivered"
    assert status.channel == "emergency_line" and status.severity == 1 and status.severity_name == "Emergency line"
    assert status.requester.phone == "+15555550142" and status.requester.email is None
    assert {"requester.email", "requester.company", "requester.building"} <= set(status.missing)
    assert events(status, "missing_requested")[0].detail["channel"] == "sms"
    assert any(e.detail.get("ladder") == "emergency_intake" for e in events(status, "ladder_started"))


async def test_a_voicemail_with_a_future_time_opens_with_the_receipt_time_and_a_note(gateway: Gateway):
    future = datetime.now(UTC) + timedelta(hours=3)
    body = {
        "caller_number": "+15555550150",
        "transcription": "Badge reader broken.",
        "extension": "2",
        "received_at": future.isoformat(),
    }
    answer = await gateway.post("/v1/intake/voicemail?tenant=blub0x", json=body)
    assert answer.status_code == 201, answer.text
    status = await gateway.status(answer.json()["case_id"])
    assert status.channel == "phone" and status.received_at < future - timedelta(hours=2)
    assert any("future" in note for note in events(status, "opened")[0].detail["notes"])


# --- chat, web form, Help button, JSON -----------------------------------------


async def test_a_chat_hand_off_opens_a_chat_case_once_per_conversation(gateway: Gateway):
    body = {
        "conversation_id": f"conv-{uuid.uuid4().hex[:10]}",
        "name": "Ana Diaz",
        "email": "ana@clinic.example",
        "message": "The waitlist will not load. It spins forever.",
        "transcript": ["Ana: hi", "Bot: how can I help?", "Ana: the waitlist will not load"],
    }
    first = await gateway.post("/v1/intake/chat?tenant=blockit", json=body)
    again = await gateway.post("/v1/intake/chat?tenant=blockit", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"duplicate": True}
    status = await gateway.status(first.json()["case_id"])
    assert status.channel == "chat" and status.subject == "The waitlist will not load."


async def test_chat_for_a_tenant_without_chat_is_a_422_naming_channel(gateway: Gateway):
    body = {"conversation_id": "c-1", "name": "Sam", "email": "sam@tower.example", "message": "hello"}
    answer = await gateway.post("/v1/intake/chat?tenant=blub0x", json=body)
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == ["channel"]


async def test_the_bluesky_help_button_form_opens_a_help_button_case(gateway: Gateway):
    form = {
        "name": "Sam Lee",
        "email": "sam@tower.example",
        "phone": "555-555-0142",
        "company": "Tower Co",
        "building": "Tower One",
        "subject": "Visitor passes",
        "description": "Visitor passes print blank.",
        "time_critical": "",
        "new_installation": "on",
    }
    answer = await gateway.post("/v1/intake/web?tenant=blub0x&channel=help_button", data=form)
    assert answer.status_code == 201, answer.text
    status = await gateway.status(answer.json()["case_id"])
    assert status.channel == "help_button" and status.new_installation and status.requester.phone == "+15555550142"
    assert status.missing == []


async def test_a_help_button_form_missing_what_blub0x_requires_is_a_422_naming_each_field(gateway: Gateway):
    form = {"name": "Sam Lee", "email": "sam@tower.example", "description": "Doors offline."}
    answer = await gateway.post("/v1/intake/web?tenant=blub0x&channel=help_button", data=form)
    assert answer.status_code == 422
    assert [f["field"] for f in answer.json()["fields"]] == [
        "requester.company",
        "requester.building",
        "requester.phone",
    ]


async def test_a_web_form_without_an_email_is_a_422_naming_email(gateway: Gateway):
    answer = await gateway.post("/v1/intake/web?tenant=blockit", data={"name": "Ana", "description": "Help"})
    assert answer.status_code == 422
    assert "email" in [f["field"] for f in answer.json()["fields"]]


async def test_json_api_requests_are_checked_against_the_policy(gateway: Gateway):
    missing_email = {"tenant": "blockit", "channel": "api", "subject": "x", "description": "y"}
    answer = await gateway.post("/v1/cases", json=missing_email)
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "requester.email"

    messaging = missing_email | {"channel": "messaging", "source_id": f"msg-{uuid.uuid4().hex}"}
    answer = await gateway.post("/v1/cases", json=messaging)
    assert answer.status_code == 201, answer.text
    assert (await gateway.status(answer.json()["case_id"])).missing == ["requester.email"]

    future = missing_email | {
        "requester": {"email": "a@b.example"},
        "received_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    answer = await gateway.post("/v1/cases", json=future)
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "received_at"

    bad_email = {"tenant": "blockit", "channel": "api", "requester": {"email": 5}}
    answer = await gateway.post("/v1/cases", json=bad_email)
    assert answer.status_code == 422
    assert answer.json()["fields"][0]["field"] == "requester.email"

    unknown = missing_email | {"tenant": "nosuchco"}
    answer = await gateway.post("/v1/cases", json=unknown)
    assert answer.status_code == 422 and answer.json()["fields"] == [
        {"field": "tenant", "problem": "unknown tenant 'nosuchco'"}
    ]

    not_listed = missing_email | {
        "tenant": "blockit",
        "channel": "emergency_line",
        "requester": {"email": "a@b.example"},
    }
    answer = await gateway.post("/v1/cases", json=not_listed)
    assert answer.status_code == 201, "an asynchronous channel the policy does not list is accepted, with a note"
    notes = events(await gateway.status(answer.json()["case_id"]), "opened")[0].detail["notes"]
    assert any("emergency_line" in note for note in notes)
