"""Voicemail, chat and web-form intake: BluB0X's extensions, clock sanity, field errors that name the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from starter.admission import admit
from starter.intake import (
    ChatIntake,
    VoicemailIntake,
    WebForm,
    chat_request,
    voicemail_request,
    web_request,
)
from tenant_policies import read_policy_file
from workflows.opening import received_at_problem
from workflows.state import missing_fields

REPO = Path(__file__).resolve().parent.parent
BLUB0X = read_policy_file(REPO / "policies" / "blub0x.yaml")
BLOCKIT = read_policy_file(REPO / "policies" / "blockit.yaml")
NIGHT = datetime(2027, 1, 9, 2, 14, tzinfo=timezone(timedelta(hours=-5)))


def voicemail(**fields: object) -> VoicemailIntake:
    body: dict[str, object] = {
        "caller_number": "(555) 555-0123",
        "caller_name": "Sam Lee",
        "transcription": "Hi, this is Sam from Harbor Tower. The front door readers are offline. Please call back.",
        "recording_url": "https://pbx.example/recordings/8812.wav",
    }
    return VoicemailIntake.model_validate(body | fields)


def error_locs(problem: pytest.ExceptionInfo[ValidationError]) -> list[tuple[object, ...]]:
    return [error["loc"] for error in problem.value.errors()]


@pytest.mark.parametrize("extension", ["6", 6])
def test_blub0x_extension_6_is_the_emergency_line(extension: object):
    request = voicemail_request(voicemail(extension=extension), BLUB0X, NIGHT)
    assert request.channel == "emergency_line"
    assert request.tenant == "blub0x"
    assert request.notes == []


@pytest.mark.parametrize("extension", ["2", 2])
def test_blub0x_extension_2_is_the_support_phone_line(extension: object):
    assert voicemail_request(voicemail(extension=extension), BLUB0X, NIGHT).channel == "phone"


def test_unknown_extension_opens_as_voicemail_with_a_note():
    request = voicemail_request(voicemail(extension="9"), BLUB0X, NIGHT)
    assert request.channel == "voicemail"
    assert request.notes == ["extension '9' is not in the policy; opened as voicemail"]


def test_no_extension_opens_as_voicemail():
    request = voicemail_request(voicemail(), BLOCKIT, NIGHT)
    assert request.channel == "voicemail"
    assert request.notes == []


def test_voicemail_becomes_a_case_request():
    request = voicemail_request(voicemail(extension=6), BLUB0X, NIGHT)
    assert request.requester.phone == "+15555550123"
    assert request.requester.name == "Sam Lee"
    assert request.subject == "Hi, this is Sam from Harbor Tower."
    assert request.recording_url == "https://pbx.example/recordings/8812.wav"
    assert request.description == (
        "Hi, this is Sam from Harbor Tower. The front door readers are offline. Please call back."
    )
    assert request.source_id == "https://pbx.example/recordings/8812.wav"
    assert request.received_at == NIGHT


def test_long_first_sentence_is_cut_to_80_characters():
    words = "the access control panel in the east lobby keeps rebooting every few minutes since the storm last night"
    request = voicemail_request(voicemail(transcription=words), BLUB0X, NIGHT)
    assert len(request.subject) <= 80
    assert request.subject.endswith("…")
    assert words.startswith(request.subject[:-1])


def test_empty_transcription_still_opens_a_case():
    request = voicemail_request(voicemail(transcription="", recording_url=None), BLUB0X, NIGHT)
    assert request.subject == "Voicemail from Sam Lee"
    assert request.description is None
    assert request.source_id is None
    assert "description" in missing_fields(request, BLUB0X)


def test_phone_system_time_is_kept_when_plausible():
    said = NIGHT - timedelta(minutes=3)
    assert voicemail_request(voicemail(received_at=said.isoformat()), BLUB0X, NIGHT).received_at == said
    slightly_ahead = NIGHT + timedelta(minutes=5)  # clocks drift; exactly five minutes ahead is still fine
    assert voicemail_request(voicemail(received_at=slightly_ahead), BLUB0X, NIGHT).received_at == slightly_ahead


def test_future_received_at_is_replaced_by_the_receipt_time_and_noted():
    future = NIGHT + timedelta(minutes=5, seconds=1)
    request = admit(voicemail_request(voicemail(received_at=future.isoformat()), BLUB0X, NIGHT), BLUB0X, NIGHT)
    assert request.received_at == NIGHT
    assert request.notes == [
        f"received_at {future.isoformat()} is more than 5 minutes in the future (received {NIGHT.isoformat()}); "
        "replaced by the receipt time"
    ]


def test_received_at_problem_is_the_five_minute_rule():
    assert received_at_problem(None, NIGHT) is None
    assert received_at_problem(NIGHT + timedelta(minutes=5), NIGHT) is None
    assert received_at_problem(NIGHT - timedelta(days=3), NIGHT) is None
    problem = received_at_problem(NIGHT + timedelta(hours=1), NIGHT)
    assert problem is not None and problem.startswith("received_at ") and "future" in problem


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("555-555-0123", "+15555550123"),
        ("1 (555) 555-0123", "+15555550123"),
        ("+1 555 555 0123", "+15555550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("5550123", "5550123"),
    ],
)
def test_caller_numbers_are_normalised(given: str, stored: str):
    assert voicemail(caller_number=given).caller_number == stored


@pytest.mark.parametrize("number", ["anonymous", "", "12", "+1-555-CALL-NOW", "555 555 0123 ext 4"])
def test_a_withheld_or_garbled_caller_id_still_opens_a_case_with_no_callback_number(number: str):
    request = voicemail_request(voicemail(caller_number=number), BLUB0X, NIGHT)
    assert request.requester.phone is None
    assert any("is not a phone number; no number to call back" in note for note in request.notes)


def test_voicemail_field_errors_name_the_field():
    with pytest.raises(ValidationError) as problem:
        VoicemailIntake.model_validate({"caller_number": "+15555550123"})
    assert error_locs(problem) == [("transcription",)]
    with pytest.raises(ValidationError) as problem:
        voicemail(received_at="2027-01-09T02:14:00")  # no offset: ambiguous
    assert error_locs(problem) == [("received_at",)]
    with pytest.raises(ValidationError) as problem:
        voicemail(recording_url="ftp://pbx.example/8812.wav")
    assert error_locs(problem) == [("recording_url",)]
    with pytest.raises(ValidationError) as problem:
        voicemail(duration=31)
    assert error_locs(problem) == [("duration",)]
    with pytest.raises(ValidationError) as problem:
        voicemail(extension=True)
    assert error_locs(problem) == [("extension",)]


def test_blub0x_voicemail_lacking_what_the_seed_asks_for_lists_the_gaps_in_policy_order():
    request = voicemail_request(voicemail(extension=2), BLUB0X, NIGHT)
    assert missing_fields(request, BLUB0X) == ["requester.company", "requester.building", "requester.email"]


def test_blank_values_count_as_missing():
    request = voicemail_request(voicemail(caller_name="   "), BLUB0X, NIGHT)
    assert request.requester.name is None
    amended = request.model_copy(update={"description": "  \n "})
    assert missing_fields(amended, BLUB0X)[0] == "requester.name"
    assert "description" in missing_fields(amended, BLUB0X)


# --- chat ------------------------------------------------------------------------


def test_chat_conversation_becomes_a_case_keyed_by_the_conversation():
    body = ChatIntake.model_validate(
        {
            "conversation_id": "conv_7Hq2",
            "name": "Ana Diaz",
            "email": "ana@clinic.example",
            "message": "Provider schedules are empty for next week. Can someone look?",
            "transcript": ["Bot: How can I help?", "Ana: Schedules are empty"],
        }
    )
    request = chat_request(body, "blockit", NIGHT)
    assert request.channel == "chat"
    assert request.source_id == "conv_7Hq2"
    assert request.subject == "Provider schedules are empty for next week."
    assert request.description == (
        "Provider schedules are empty for next week. Can someone look?"
        "\n\nTranscript:\nBot: How can I help?\nAna: Schedules are empty"
    )
    assert (request.requester.name, request.requester.email) == ("Ana Diaz", "ana@clinic.example")
    assert request.received_at == NIGHT
    assert missing_fields(request, BLOCKIT) == []


def test_chat_without_an_email_misses_what_blockit_requires():
    body = ChatIntake(conversation_id="c1", message="help", email="")
    assert missing_fields(chat_request(body, "blockit", NIGHT), BLOCKIT) == ["requester.email"]


def test_chat_field_errors_name_the_field():
    with pytest.raises(ValidationError) as problem:
        ChatIntake.model_validate({"conversation_id": " ", "message": "x", "email": "not-an-address"})
    assert sorted(error_locs(problem)) == [("conversation_id",), ("email",)]


# --- web form ----------------------------------------------------------------------


def form(**fields: str) -> dict[str, str]:
    return {"name": "Ana Diaz", "email": "ana@clinic.example", "description": "Reports export times out"} | fields


@pytest.mark.parametrize("ticked", ["on", "true", "1", "yes", "YES", "True"])
def test_ticked_checkboxes_are_true(ticked: str):
    parsed = WebForm.model_validate(form(time_critical=ticked, new_installation=ticked))
    assert parsed.time_critical is True and parsed.new_installation is True


@pytest.mark.parametrize("unticked", ["", "off", "false", "0", "no"])
def test_unticked_checkboxes_are_false(unticked: str):
    parsed = WebForm.model_validate(form(time_critical=unticked))
    assert parsed.time_critical is False
    assert WebForm.model_validate(form()).new_installation is False


def test_a_checkbox_that_is_not_yes_or_no_names_the_field():
    with pytest.raises(ValidationError) as problem:
        WebForm.model_validate(form(time_critical="maybe"))
    assert error_locs(problem) == [("time_critical",)]


def test_empty_form_strings_are_absent_and_severity_is_a_number():
    parsed = WebForm.model_validate(form(subject="", severity="2", company=" ", building="", phone="", source_id=""))
    assert parsed.severity == 2
    assert (parsed.subject, parsed.company, parsed.building, parsed.phone, parsed.source_id) == (None,) * 5
    assert WebForm.model_validate(form(severity="")).severity is None


def test_web_form_errors_name_the_field():
    with pytest.raises(ValidationError) as problem:
        WebForm.model_validate(form(severity="high", email="ana", name=""))
    assert sorted(error_locs(problem)) == [("email",), ("name",), ("severity",)]


def test_help_button_form_becomes_a_case_request():
    parsed = WebForm.model_validate(
        form(
            subject="Export slow",
            severity="2",
            company="Harbor Co",
            building="Harbor Tower",
            phone="555.555.0199",
            time_critical="on",
            source_id="bluSKY-help-991",
        )
    )
    request = web_request(parsed, "blub0x", "help_button", NIGHT)
    assert request.channel == "help_button"
    assert request.requester.model_dump() == {
        "name": "Ana Diaz",
        "email": "ana@clinic.example",
        "phone": "+15555550199",
        "company": "Harbor Co",
        "building": "Harbor Tower",
    }
    assert (request.subject, request.severity, request.time_critical, request.new_installation) == (
        "Export slow",
        2,
        True,
        False,
    )
    assert request.source_id == "bluSKY-help-991"
    assert request.received_at == NIGHT
    assert missing_fields(request, BLUB0X) == []


def test_a_typed_phone_that_does_not_parse_is_kept_as_written():
    assert WebForm.model_validate(form(phone="555-555-0199 ext. 4")).phone == "555-555-0199 ext. 4"
