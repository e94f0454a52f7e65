"""blockit's "Please avoid using PHI": identifiers are removed at intake, ordinary support text is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from starter.intake import redact, redact_request
from starter.intake.phi import redact_identifier, redact_url
from starter.intake.source_ids import stored_source_id
from starter.intake.text import stored_text
from workflows.contracts import CaseRequest, Requester


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Social Security numbers, dashed or spaced, labelled or not.
        ("Patient SSN 123-45-6789 cannot log in", "Patient SSN [redacted] cannot log in"),
        ("her number is 123 45 6789 per the chart", "her number is [redacted] per the chart"),
        ("social security number: 123456789", "social security number: [redacted]"),
        # Dates of birth, only when labelled.
        ("DOB: 03/14/1962", "DOB: [redacted]"),
        ("D.O.B. 3-14-62 on file", "D.O.B. [redacted] on file"),
        ("date of birth is March 14, 1962.", "date of birth is [redacted]."),
        ("born on 14 March 1962", "born on [redacted]"),
        ("Birthdate 1962-03-14", "Birthdate [redacted]"),
        # Medical record numbers.
        ("MRN 00482913 shows twice", "MRN [redacted] shows twice"),
        ("MRN#A-55102", "MRN#[redacted]"),
        ("medical record number: 7734120", "medical record number: [redacted]"),
        ("Medical record # 88-1203", "Medical record # [redacted]"),
        # Medicare Beneficiary Identifiers, with or without dashes, and legacy HICNs when labelled.
        ("MBI 1EG4-TE5-MK73 rejected", "MBI [redacted] rejected"),
        ("eligibility for 1EG4TE5MK73 failed", "eligibility for [redacted] failed"),
        ("HICN: 123456789A", "HICN: [redacted]"),
        ("Medicare number 987654321C1", "Medicare number [redacted]"),
        # Insurance ids when labelled.
        ("Member ID: W123456789", "Member ID: [redacted]"),
        ("subscriber id XYZ 884 2213", "subscriber id [redacted]"),
        ("policy number P-99812-01", "policy number [redacted]"),
        ("insurance id #55120934", "insurance id #[redacted]"),
        ("Health plan member # H4432190", "Health plan member # [redacted]"),
    ],
)
def test_each_kind_of_phi_is_redacted_once(text: str, expected: str):
    assert redact(text) == (expected, 1)


@pytest.mark.parametrize(
    "text",
    [
        "the outage on 2027-01-08 started at 16:30",
        "since 01/08/2027 reminders fail",
        "call me at 555-555-0123 or +1 (555) 555-0199",
        "order number 4471-2208 and order #48213",
        "invoice INV-2027-00042 is wrong",
        "re case-blockit-0a1b2c3d4e5f60718293a4b5 and case-blub0x-abc",
        "ticket 123-45-67890 and build 000-12-3456",
        "our policy number is 5 days, the member id field is empty",
        "the subscriber no longer gets reminders; the policy note was ignored",
        "born in 1962",
        "version 4.12.1, 12 attempts, error code E1234",
        "Message-ID <case-blockit-abc.0123456789abcdef@supportflow.invalid>",
    ],
)
def test_ordinary_support_text_is_kept(text: str):
    assert redact(text) == (text, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MRN 123", ("MRN [redacted]", 1)),
        ("see MRN 1-2-3 above", ("see MRN [redacted] above", 1)),
        ("MRN 12", ("MRN 12", 0)),
        ("MRN 1 and 2", ("MRN 1 and 2", 0)),
    ],
)
def test_three_digits_are_the_fewest_an_identifier_holds(text: str, expected: tuple[str, int]):
    """Text with fewer than three digits skips the patterns (`ENOUGH_DIGITS`); three, however spread, does not."""
    assert redact(text) == expected


def test_count_is_one_per_identifier():
    text = "Pt DOB 01/02/1980, MRN 4455120, SSN 123-45-6789 and member id W99120033; also 1EG4-TE5-MK73."
    redacted, count = redact(text)
    assert count == 5
    assert redacted.count("[redacted]") == 5
    assert redacted == "Pt DOB [redacted], MRN [redacted], SSN [redacted] and member id [redacted]; also [redacted]."


def test_redact_request_flags_the_case_and_drops_the_ssn():
    request = CaseRequest(
        tenant="blockit",
        channel="email",
        requester=Requester(name="Ana Diaz", email="ana@clinic.example"),
        subject="Wrong chart for SSN 123-45-6789",
        description="Booking shows patient 123-45-6789 twice.\nDOB: 4/5/1970",
        received_at=datetime(2027, 1, 8, 22, 30, tzinfo=UTC),
        source_id="<m1@clinic.example>",
    )
    redacted = redact_request(request)
    assert redacted.phi_redacted is True
    assert "123-45-6789" not in redacted.model_dump_json()
    assert "4/5/1970" not in redacted.model_dump_json()
    assert redacted.subject == "Wrong chart for SSN [redacted]"
    assert redacted.description == "Booking shows patient [redacted] twice.\nDOB: [redacted]"
    assert redacted.requester == request.requester
    assert (redacted.source_id, redacted.received_at) == (request.source_id, request.received_at)
    assert redacted.notes == []  # the case records that a redaction happened, never what


def test_redact_request_without_phi_leaves_the_request_alone():
    request = CaseRequest(tenant="blockit", channel="web", subject="Export slow", description="since 2027-01-08")
    assert redact_request(request) == request
    assert redact_request(request).phi_redacted is False
    assert redact_request(CaseRequest(tenant="blockit", channel="web")).phi_redacted is False


@pytest.mark.parametrize(
    "url",
    [
        "https://pbx.example/recordings/SSN-123-45-6789.wav",
        "https://pbx.example/r?dob=03/14/1962",
        "https://pbx.example/r/MRN_A7734521.wav",
        "https://pbx.example/r/DOB-03/14/1962.wav",
        "https://pbx.example/r/DOB%2003%2F14%2F1962",
    ],
)
def test_a_recording_url_whose_path_holds_phi_keeps_only_its_host(url: str):
    redacted, found = redact_url(url)
    assert (redacted, bool(found)) == ("https://pbx.example/[redacted]", True)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.twilio.com/2010-04-01/Accounts/AC123/Recordings/RE0123456789abcdef0123456789abcdef",
        "https://pbx.example/recordings/8812.wav",
        "https://pbx.example/2027-01-08/call-4471.wav",
    ],
)
def test_an_ordinary_recording_url_is_kept(url: str):
    assert redact_url(url) == (url, 0)


def test_names_and_ids_lose_an_ssn_glued_to_other_text():
    assert redact_identifier("conv-123-45-6789") == ("conv-[redacted]", 1)
    assert redact_identifier("Dr Lee") == ("Dr Lee", 0)


def test_source_ids_are_stored_as_their_hash_except_our_own_message_ids():
    ours = "<case-blockit-0a1b2c3d4e5f60718293a4b5.0123456789abcdef@supportflow.invalid>"
    assert stored_source_id(ours) == ours
    hashed = stored_source_id("<SSN-123-45-6789@clinic.example>")
    assert hashed is not None and hashed.startswith("sha256:") and len(hashed) == 71
    assert stored_source_id(hashed) == hashed == stored_source_id("<SSN-123-45-6789@clinic.example>")
    assert stored_source_id(None) is None


def test_stored_text_drops_control_characters_but_tab_newline_and_return():
    assert stored_text("a\x00b\x1b[1m\x7f\x85c\td\r\ne\ud800") == "ab[1mc\td\r\ne\ufffd"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\x00b\x1b[1m", "ab[1m"), ("rm\x7f", "rm"), ("café\x85", "café"), ("tab\tline\r\n", "tab\tline\r\n")],
)
def test_stored_text_cleans_ascii_and_other_text_alike(text: str, expected: str):
    assert stored_text(text) == expected


def test_clean_ascii_text_is_stored_as_it_came():
    text = "Scheduling page down since 9:00"
    assert stored_text(text) is text
