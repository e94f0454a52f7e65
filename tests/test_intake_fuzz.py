"""Intake never crashes on hostile input: only IntakeError or a pydantic ValidationError, which the gateway turns into a 422.

Run with `-s` to see how many examples each property tried.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from starter.admission import admit
from starter.intake import IntakeError, VoicemailIntake, parse_email, redact, voicemail_request
from starter.intake.phi import MARKER
from tenant_policies import read_policy_file

REPO = Path(__file__).resolve().parent.parent
BLUB0X = read_policy_file(REPO / "policies" / "blub0x.yaml")
RECEIVED = datetime(2027, 1, 8, 22, 31, tzinfo=UTC)
FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
tried: Counter[str] = Counter()


def report(name: str) -> None:
    print(f"\n{name}: {tried[name]} examples tried")


# --- email -------------------------------------------------------------------------

CHARSETS = st.sampled_from(
    ["utf-8", "iso-8859-1", "us-ascii", "utf-16", "x-unknown", "base64", "idna", "utf-7", "", "cp1252"]
)
HEADER_NAMES = st.sampled_from(
    [
        "From",
        "Reply-To",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Date",
        "Auto-Submitted",
        "Precedence",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
        "X-Other",
    ]
)
FRAGMENTS = st.sampled_from(
    [
        "=?utf-8?b?w4lj?=",
        "=?iso-8859-1?q?Jos=E9?=",
        "=?x-bogus?q?abc?=",
        "=?utf-8?b?!!!?=",
        "=?utf-16?b?2AA=?=",
        "<a@b>",
        "<case-blockit-abc.0123456789abcdef@supportflow.invalid>",
        '"Diaz, Ana" <ana@clinic.example>',
        "ana@clinic.example",
        "multipart/mixed; boundary=XX",
        "multipart/alternative; boundary=YY",
        "text/plain; charset=",
        "text/html",
        "base64",
        "quoted-printable",
        "attachment; filename*=x-bad''%FF%FE",
        'attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="',
        "auto-replied",
        "bulk",
        "\r\n ",
        ";",
        "\x00",
    ]
)


@st.composite
def header_values(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=4))
    charset = draw(CHARSETS)
    return "".join(parts).replace("CHARSET", charset)


@st.composite
def bodies(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth < 2 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["XX", "YY", "b1"]))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "signed"]))
        parts = draw(st.lists(bodies(depth=depth + 1), max_size=3))
        head = f"Content-Type: multipart/{subtype}; boundary={boundary}\r\n\r\n".encode()
        inner = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
        closing = b"--" + boundary.encode() + b"--\r\n" if draw(st.booleans()) else b""
        return head + inner + closing
    ctype = draw(
        st.sampled_from(["text/plain", "text/html", "application/pdf", "message/rfc822", "image/png", "bogus"])
    )
    charset = draw(CHARSETS)
    encoding = draw(st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "weird"]))
    disposition = draw(
        st.sampled_from(["", "Content-Disposition: attachment; filename=a.pdf\r\n", "Content-Disposition: inline\r\n"])
    )
    payload = draw(
        st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
    )
    head = f"Content-Type: {ctype}; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n{disposition}\r\n"
    return head.encode() + payload


@st.composite
def structured_mail(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, header_values()), max_size=10))
    # Most mail has a usable sender; without one, parsing stops at the From check and tests little else.
    sender = draw(st.sampled_from(["ana@clinic.example", "=?utf-8?q?Ana_D=C3=ADaz?= <ana@clinic.example>", None]))
    if sender:
        headers.insert(draw(st.integers(0, len(headers))), ("From", sender))
    head = b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogatepass") for name, value in headers)
    return head + draw(bodies())


def assert_only_intake_error(raw: bytes) -> None:
    try:
        intake = parse_email(raw, "blockit", RECEIVED)
    except IntakeError as problem:
        assert problem.field
        return
    intake.model_dump_json()  # what the gateway sends to Temporal must serialise


@FUZZ
@given(st.binary(max_size=3000))
def _arbitrary_bytes(raw: bytes) -> None:
    tried["parse_email(arbitrary bytes)"] += 1
    assert_only_intake_error(raw)


@FUZZ
@given(structured_mail())
def _structured_mail(raw: bytes) -> None:
    tried["parse_email(structured mail)"] += 1
    assert_only_intake_error(raw)


def test_parse_email_never_raises_on_arbitrary_bytes():
    _arbitrary_bytes()
    report("parse_email(arbitrary bytes)")


def test_parse_email_never_raises_on_random_headers_and_mime_trees():
    _structured_mail()
    report("parse_email(structured mail)")


# --- voicemail ------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
PLAUSIBLE = {
    "caller_number": st.sampled_from(["+15555550123", "(555) 555-0123", "555.555.0123", "anonymous", "+", ""]),
    "caller_name": st.text(max_size=20),
    "transcription": st.text(max_size=300),
    "recording_url": st.sampled_from(["https://pbx.example/r/1.wav", "http://x", "ftp://x", "https://a b"]),
    "extension": st.sampled_from(["2", "6", 2, 6, "9", 9, "", True, -1, 10**30]),
    "received_at": st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])).map(
        datetime.isoformat
    ),
}


@st.composite
def voicemail_bodies(draw: st.DrawFn) -> dict[str, object]:
    body: dict[str, object] = {}
    for key, plausible in PLAUSIBLE.items():
        if draw(st.booleans()):
            body[key] = draw(st.one_of(plausible, JSON))
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.text(max_size=8))] = draw(JSON)
    return body


@FUZZ
@given(voicemail_bodies(), st.datetimes(timezones=st.just(UTC)))
# Found by this test: a transcription of nothing but an escape character gave the case an empty subject.
@example({"caller_number": "+15555550123", "transcription": "\x1b"}, datetime(2000, 1, 1, tzinfo=UTC))
def _voicemail(body: dict[str, object], receipt_time: datetime) -> None:
    tried["VoicemailIntake + voicemail_request"] += 1
    try:
        parsed = VoicemailIntake.model_validate(body)
    except ValidationError:
        return
    request = admit(voicemail_request(parsed, BLUB0X, receipt_time), BLUB0X, receipt_time)
    assert request.received_at is not None and request.received_at <= receipt_time + timedelta(minutes=5)
    assert request.subject and len(request.subject) <= 80
    request.model_dump_json()


def test_voicemail_never_raises_anything_but_a_validation_error():
    _voicemail()
    report("VoicemailIntake + voicemail_request")


# --- PHI ----------------------------------------------------------------------------------

PHI_FRAGMENTS = st.sampled_from(
    [
        "SSN ",
        "123-45-6789",
        "123 45 6789",
        "DOB: ",
        "03/14/1962",
        "March 14, 1962",
        "MRN#",
        "A-55102",
        "1EG4-TE5-MK73",
        "1EG4TE5MK73",
        "member id ",
        "W123 456 789",
        "policy number is ",
        "2027-01-08",
        "555-555-0123",
        " ",
        "-",
        ":",
        "\n",
        "[redacted]",
        "born on ",
        "HICN ",
        "123456789A",
    ]
)


@FUZZ
@given(st.lists(st.one_of(PHI_FRAGMENTS, st.text(max_size=10)), max_size=15).map("".join))
def _redact(text: str) -> None:
    tried["redact"] += 1
    redacted, count = redact(text)
    assert count >= 0
    assert redacted.count(MARKER) - text.count(MARKER) == count
    if not any(c.isdigit() for c in text):
        assert (redacted, count) == (text, 0)


def test_redact_never_raises_and_counts_every_marker():
    _redact()
    report("redact")
