"""Email intake: RFC 5322 mail as real clients send it → the CaseRequest the gateway starts."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from starter.intake import Attachment, IntakeError, case_id_from_message_id, parse_email

RECEIVED = datetime(2027, 1, 8, 22, 31, 5, tzinfo=UTC)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("ascii")


def clinic_mail_with_screenshot() -> bytes:
    """Thunderbird-shaped: multipart/mixed( multipart/alternative(plain, html), application/pdf )."""
    message = EmailMessage()
    message["From"] = "Ana Diaz <ana@clinic.example>"
    message["To"] = "support@blockit.example"
    message["Subject"] = "Scheduling page down"
    message["Date"] = "Fri, 08 Jan 2027 16:30:00 -0600"
    message["Message-ID"] = "<20270108163000.4711@mail.clinic.example>"
    message.set_content("Hi,\n\nthe scheduling page shows a blank screen since 4 pm.\n\nAna\n")
    message.add_alternative(
        "<html><body><p>Hi,</p><p>the <b>scheduling</b> page shows a blank screen since 4&nbsp;pm.</p>"
        "<p>Ana</p></body></html>",
        subtype="html",
    )
    message.add_attachment(
        b"%PDF-1.7\n" + bytes(12 * 1024 - 9), maintype="application", subtype="pdf", filename="blank-screen.pdf"
    )
    return message.as_bytes()


def test_multipart_mail_uses_the_plain_part_and_lists_the_pdf():
    intake = parse_email(clinic_mail_with_screenshot(), "blockit", RECEIVED)
    request = intake.request
    assert request.channel == "email"
    assert request.tenant == "blockit"
    assert (request.requester.name, request.requester.email) == ("Ana Diaz", "ana@clinic.example")
    assert request.subject == "Scheduling page down"
    assert request.description == (
        "Hi,\n\nthe scheduling page shows a blank screen since 4 pm.\n\nAna\n\nAttachments: blank-screen.pdf (12 KB)"
    )
    assert "<b>" not in request.description
    assert intake.attachments == [
        Attachment(name="blank-screen.pdf", size_bytes=12 * 1024, content_type="application/pdf")
    ]
    assert request.source_id == intake.message_id == "<20270108163000.4711@mail.clinic.example>"


def test_received_at_is_the_receipt_time_never_the_date_header():
    intake = parse_email(clinic_mail_with_screenshot(), "blockit", RECEIVED)
    assert intake.request.received_at == RECEIVED
    assert intake.date_header == "Fri, 08 Jan 2027 16:30:00 -0600"
    assert intake.request.time_critical is False


def test_html_only_mail_becomes_readable_text():
    raw = crlf(
        "From: Ops Desk <ops@clinic.example>\n"
        "To: support@blockit.example\n"
        "Subject: Reminders not sent\n"
        "Message-ID: <html-only-1@clinic.example>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "<!DOCTYPE html><html><head><title>ignored</title><style>p {color: red}</style></head>\n"
        "<body><div>Hello team,</div>\n"
        "<p>No SMS reminders went out\n   today &amp; yesterday &lt;both&gt;.</p>\n"
        "<ul><li>Practice: North</li><li>Practice: South</li></ul>\n"
        "Thanks<br>Ops &#8211; Desk<script>alert(1)</script></body></html>\n"
    )
    description = parse_email(raw, "blockit", RECEIVED).request.description
    assert description == (
        "Hello team,\n\nNo SMS reminders went out today & yesterday <both>.\n\n"
        "- Practice: North\n\n- Practice: South\n\nThanks\nOps – Desk"
    )


def test_reply_to_our_mail_names_the_case_in_its_thread_ids():
    ours = "<case-blockit-abc.0123456789abcdef@supportflow.invalid>"
    raw = crlf(
        "From: Ana Diaz <ana@clinic.example>\n"
        "To: support@blockit.example\n"
        "Subject: Re: Scheduling page down\n"
        "Message-ID: <reply-2@mail.clinic.example>\n"
        f"In-Reply-To: {ours}\n"
        "References: <20270108163000.4711@mail.clinic.example>\n"
        f" {ours}\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "It works again, thanks.\n"
    )
    intake = parse_email(raw, "blockit", RECEIVED)
    assert intake.thread_ids == [ours, "<20270108163000.4711@mail.clinic.example>"]
    assert [case_id_from_message_id(i) for i in intake.thread_ids] == ["case-blockit-abc", None]


def test_case_id_from_message_id_only_for_our_outbound_shape():
    assert case_id_from_message_id("<case-blub0x-0a1b2c3d4e5f60718293a4b5.89abcdef01234567@supportflow.invalid>") == (
        "case-blub0x-0a1b2c3d4e5f60718293a4b5"
    )
    assert case_id_from_message_id("<case-blockit-abc.0123456789abcdef@mail.example>") is None
    assert case_id_from_message_id("<case-blockit-abc.0123@supportflow.invalid>") is None  # n is 16 hex digits
    assert case_id_from_message_id("<ticket-7.0123456789abcdef@supportflow.invalid>") is None
    assert case_id_from_message_id("") is None


def test_our_message_id_function_round_trips():
    from activities.channels.email import message_id

    assert case_id_from_message_id(
        message_id("case-blockit-abc123", "case-blockit-abc123:requester_ack:0:0:0:x:email")
    ) == ("case-blockit-abc123")


def test_reply_to_is_the_requester_over_from():
    raw = crlf(
        "From: Clinic Mailer <no-reply@clinic.example>\n"
        'Reply-To: "Diaz, Ana" <ana.diaz@clinic.example>\n'
        "Subject: Login loop\n"
        "\n"
        "Every login sends me back to the start.\n"
    )
    requester = parse_email(raw, "blockit", RECEIVED).request.requester
    assert (requester.name, requester.email) == ("Diaz, Ana", "ana.diaz@clinic.example")


def test_iso_8859_1_body_and_encoded_word_subject_are_decoded():
    raw = (
        b"From: =?iso-8859-1?q?Jos=E9_Mu=F1oz?= <jose@clinic.example>\r\n"
        b"Subject: =?utf-8?b?w4ljaMOpYW5jaWVyIGNhc3PDqSDigJQgcGFnZSAy?=\r\n"
        b"Message-ID: <latin1@clinic.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Le calendrier de la cr\xe8che ne s'affiche plus. Merci, Jos\xe9\r\n"
    )
    request = parse_email(raw, "blockit", RECEIVED).request
    assert request.requester.name == "José Muñoz"
    assert request.subject == "Échéancier cassé — page 2"
    assert request.description == "Le calendrier de la crèche ne s'affiche plus. Merci, José"
    assert request.notes == []


def test_unknown_charset_is_read_as_utf8_and_noted():
    raw = crlf(
        "From: a@clinic.example\nSubject: x\nContent-Type: text/plain; charset=x-no-such-charset\n\nstill readable\n"
    )
    request = parse_email(raw, "blockit", RECEIVED).request
    assert request.description == "still readable"
    assert request.notes == ["body charset 'x-no-such-charset' is not one we can decode; read as UTF-8"]


def test_raw_utf8_headers_survive():
    raw = "From: Zoë Ångström <zoe@clinic.example>\r\nSubject: Café kiosk frozen\r\n\r\nbody\r\n".encode()
    request = parse_email(raw, "blockit", RECEIVED).request
    assert (request.requester.name, request.subject) == ("Zoë Ångström", "Café kiosk frozen")


def test_no_message_id_means_no_source_id():
    intake = parse_email(crlf("From: a@clinic.example\nSubject: hi\n\nbody\n"), "blockit", RECEIVED)
    assert intake.request.source_id is None
    assert intake.message_id is None
    assert intake.thread_ids == []
    assert intake.date_header is None


def test_no_from_is_an_intake_error_naming_from():
    with pytest.raises(IntakeError) as raised:
        parse_email(crlf("To: support@blockit.example\nSubject: who am I\n\nbody\n"), "blockit", RECEIVED)
    assert raised.value.field == "from"
    assert isinstance(raised.value, ValueError)


def test_from_without_an_address_is_an_intake_error_naming_from():
    with pytest.raises(IntakeError) as raised:
        parse_email(crlf("From: just a name\nSubject: x\n\nbody\n"), "blockit", RECEIVED)
    assert raised.value.field == "from"


def test_bad_tenant_is_an_intake_error_naming_tenant():
    with pytest.raises(IntakeError) as raised:
        parse_email(crlf("From: a@clinic.example\n\nbody\n"), "Not A Tenant", RECEIVED)
    assert raised.value.field == "tenant"


@pytest.mark.parametrize(
    ("headers", "auto"),
    [
        ("Auto-Submitted: auto-replied\n", True),
        ("Auto-Submitted: auto-generated; owner-email=postmaster@clinic.example\n", True),
        ("Auto-Submitted: no\n", False),
        ("Auto-Submitted: No\n", False),
        ("Precedence: bulk\n", True),
        ("Precedence: junk\n", True),
        ("Precedence: auto_reply\n", True),
        ("Precedence: list\n", False),
        ("", False),
    ],
)
def test_auto_submitted_mail_is_flagged_so_the_gateway_can_avoid_loops(headers: str, auto: bool):
    raw = crlf(f"From: Out Of Office <ana@clinic.example>\nSubject: Away\n{headers}\nI am away until Monday.\n")
    assert parse_email(raw, "blockit", RECEIVED).auto_submitted is auto


def test_mail_with_only_an_attachment_still_opens_with_the_list():
    message = EmailMessage()
    message["From"] = "scanner@clinic.example"
    message["Subject"] = "Scan"
    message.add_attachment(b"x" * 300, maintype="image", subtype="png", filename="scan.png")
    intake = parse_email(message.as_bytes(), "blockit", RECEIVED)
    assert intake.request.description == "Attachments: scan.png (300 bytes)"


def test_forwarded_message_is_listed_as_an_attachment():
    inner = EmailMessage()
    inner["From"] = "system@clinic.example"
    inner["Subject"] = "Sync failed"
    inner.set_content("Sync failed at 03:00.")
    outer = EmailMessage()
    outer["From"] = "ana@clinic.example"
    outer["Subject"] = "Fwd: Sync failed"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    intake = parse_email(outer.as_bytes(), "blockit", RECEIVED)
    assert intake.request.description.startswith("See below.\n\nAttachments: Sync failed.eml (")
    assert intake.attachments[0].content_type == "message/rfc822"


def test_many_attachments_are_all_kept_but_the_description_lists_twenty():
    message = EmailMessage()
    message["From"] = "scanner@clinic.example"
    message.set_content("Scans attached.")
    for i in range(25):
        message.add_attachment(b"x" * 2048, maintype="image", subtype="png", filename=f"scan-{i:02}.png")
    intake = parse_email(message.as_bytes(), "blockit", RECEIVED)
    assert len(intake.attachments) == 25
    assert intake.request.description.endswith("scan-19.png (2 KB) and 5 more")


def test_absurdly_nested_mime_is_refused_naming_body():
    nested = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(500))
    with pytest.raises(IntakeError) as raised:
        parse_email(crlf(f"From: a@clinic.example\n{nested}Content-Type: text/plain\n\nhello\n"), "blockit", RECEIVED)
    assert raised.value.field == "body"
