"""The call flow alone (starter/phone): what each step of a call answers, as TwiML parsed as XML, and
the `intake.phone` policy section (DESIGN Decision 10). No server: pure functions of the policy,
Twilio's report and whether the line is open."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from support import REPO

from starter.phone import call_flow
from starter.phone.call_cases import TwilioCall, answered_request, voicemail_request
from starter.phone.call_flow import Callbacks
from tenant_policies import PolicyError, parse_policy, read_policy_file

PUBLIC = "https://support.example"
BLUB0X = read_policy_file(REPO / "policies" / "blub0x.yaml")
BLOCKIT = read_policy_file(REPO / "policies" / "blockit.yaml")
ONCALL = ["+15555550201", "+15555550202", "+15555550203"]


def xml(response) -> ET.Element:
    return ET.fromstring(str(response).encode())


def step_of(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    assert url.startswith(PUBLIC + "/v1/twilio/voice"), url
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def callbacks(tenant: str = "blub0x") -> Callbacks:
    return Callbacks(PUBLIC, tenant)


def test_blub0x_answers_with_its_greeting_and_a_menu_of_ext_2_and_ext_6():
    root = xml(call_flow.answer(BLUB0X, callbacks()))

    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert step_of(gather.get("action")) == ("/v1/twilio/voice/menu", {"tenant": "blub0x", "tries": "0"})
    said = " ".join(say.text for say in gather.iter("Say"))
    assert "Thank you for calling BluB0X support." in said
    assert "support line, press 2" in said and "emergency line, press 6" in said
    assert step_of(root.find("Redirect").text) == ("/v1/twilio/voice", {"tenant": "blub0x", "tries": "1"})


def test_ext_6_dials_the_oncall_rotation_one_member_at_a_time_for_ring_seconds():
    root = xml(call_flow.choose(BLUB0X, "6", callbacks(), open_now=False))

    dial = root.find("Dial")
    assert [n.text for n in dial.iter("Number")] == [ONCALL[0]]
    assert dial.get("timeout") == "20"
    assert step_of(dial.get("action")) == ("/v1/twilio/voice/dialed", {"tenant": "blub0x", "line": "6", "member": "0"})


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_a_member_who_does_not_answer_passes_the_call_to_the_next(status):
    outcome = call_flow.after_dial(BLUB0X, "6", 0, status, callbacks())

    assert outcome.answered_by is None
    dial = xml(outcome.twiml).find("Dial")
    assert [n.text for n in dial.iter("Number")] == [ONCALL[1]]
    assert step_of(dial.get("action"))[1]["member"] == "1"


def test_when_the_last_member_does_not_answer_the_caller_is_asked_for_the_seven_items_and_recorded():
    outcome = call_flow.after_dial(BLUB0X, "6", 2, "no-answer", callbacks())

    root = xml(outcome.twiml)
    said = " ".join(say.text for say in root.iter("Say"))
    for item in ("your name", "company", "building", "phone number", "email address", "time-critical", "existing"):
        assert item in said
    record = root.find("Record")
    assert record.get("maxLength") == "300" and record.get("transcribe") == "true"
    assert step_of(record.get("action")) == ("/v1/twilio/voice/recorded", {"tenant": "blub0x", "line": "6"})
    assert step_of(record.get("transcribeCallback")) == (
        "/v1/twilio/voice/transcribed",
        {"tenant": "blub0x", "line": "6"},
    )


def test_the_member_who_answers_takes_the_call():
    outcome = call_flow.after_dial(BLUB0X, "6", 1, "completed", callbacks())

    assert outcome.answered_by == "oncall-2"
    assert [child.tag for child in xml(outcome.twiml)] == ["Hangup"]


def test_ext_2_rings_the_support_engineers_at_once_in_business_hours():
    root = xml(call_flow.choose(BLUB0X, "2", callbacks(), open_now=True))

    dial = root.find("Dial")
    assert [n.text for n in dial.iter("Number")] == ["+15555550211", "+15555550212"]
    assert step_of(dial.get("action")) == ("/v1/twilio/voice/dialed", {"tenant": "blub0x", "line": "2"})


def test_ext_2_goes_to_voicemail_after_hours():
    root = xml(call_flow.choose(BLUB0X, "2", callbacks(), open_now=False))

    assert root.find("Dial") is None
    assert "closed" in root.find("Say").text
    assert step_of(root.find("Record").get("action"))[1] == {"tenant": "blub0x", "line": "2"}


def test_an_answered_ext_2_call_takes_nobody_and_an_unanswered_one_goes_to_voicemail():
    answered = call_flow.after_dial(BLUB0X, "2", None, "completed", callbacks())
    missed = call_flow.after_dial(BLUB0X, "2", None, "no-answer", callbacks())

    assert answered.answered_by is None and [c.tag for c in xml(answered.twiml)] == ["Hangup"]
    assert xml(missed.twiml).find("Record") is not None


def test_a_digit_not_on_the_menu_is_said_and_the_menu_offered_again_then_voicemail():
    again = xml(call_flow.choose(BLUB0X, "9", callbacks(), open_now=True))
    given_up = xml(call_flow.answer(BLUB0X, callbacks(), tries=call_flow.MENU_TRIES))

    assert "9 is not an option" in again.find("Say").text
    assert step_of(again.find("Redirect").text)[1]["tries"] == "1"
    assert step_of(given_up.find("Record").get("action")) == ("/v1/twilio/voice/recorded", {"tenant": "blub0x"})


def test_blockits_number_goes_straight_to_its_monitored_voicemail():
    root = xml(call_flow.answer(BLOCKIT, callbacks("blockit")))

    assert [child.tag for child in root][:3] == ["Say", "Say", "Record"]
    assert "monitored voicemail" in root.findall("Say")[1].text
    assert call_flow.line_channel(BLOCKIT, None) == "voicemail"


def test_a_tenant_without_a_phone_section_says_so_and_hangs_up():
    no_phone = BLOCKIT.model_copy(update={"intake": BLOCKIT.intake.model_copy(update={"phone": None})})

    root = xml(call_flow.answer(no_phone, callbacks("blockit")))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "not set up" in root.find("Say").text


# --- the cases a call opens ------------------------------------------------------

RECEIVED = datetime(2027, 1, 9, 7, 0, tzinfo=UTC)  # Saturday 02:00 in New York


def a_call(**fields: str) -> TwilioCall:
    return TwilioCall.model_validate({"CallSid": "CA" + "0" * 32, "From": "+15555550123", **fields})


def test_the_recording_opens_an_emergency_line_case_keyed_by_the_callsid():
    call = a_call(RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", RecordingDuration="42")

    request = voicemail_request(BLUB0X, "emergency_line", call, RECEIVED)

    assert (request.channel, request.source_id, request.received_at) == ("emergency_line", call.call_sid, RECEIVED)
    assert request.requester.phone == "+15555550123"
    assert request.recording_url == call.recording_url and request.description is None
    assert request.subject == "Emergency line voicemail from +15555550123"


def test_a_recording_url_that_is_not_https_is_left_out_with_a_note():
    request = voicemail_request(BLOCKIT, "voicemail", a_call(RecordingUrl="http://insecure.example/r"), RECEIVED)

    assert request.recording_url is None and any("https" in note for note in request.notes)


def test_a_withheld_caller_id_still_opens_a_case_without_a_number():
    request = voicemail_request(BLOCKIT, "voicemail", a_call(From="anonymous"), RECEIVED)

    assert request.requester.phone is None and "anonymous" in request.subject


def test_an_answered_call_opens_the_case_for_the_member_from_when_the_call_began():
    call = a_call(DialCallStatus="completed", DialCallDuration="300")

    request = answered_request(BLUB0X, "emergency_line", call, "oncall-2", RECEIVED)

    assert request.answered_by == "oncall-2" and request.source_id == call.call_sid
    assert request.received_at == RECEIVED - timedelta(minutes=5)
    assert "On-call engineer 2" in request.subject


# --- the policy section --------------------------------------------------------------


def blub0x_with(phone: dict) -> str:
    policy = yaml.safe_load((REPO / "policies" / "blub0x.yaml").read_text())
    policy["intake"]["phone"] = phone
    return yaml.safe_dump(policy)


@pytest.mark.parametrize(
    ("phone", "field", "problem"),
    [
        (
            {"menu": {"6": {"channel": "emergency_line", "rotation": "nobody"}}},
            "intake.phone.menu.6.rotation",
            "unknown rotation",
        ),
        ({"menu": {"2": {"channel": "phone", "ring": ["ghost"]}}}, "intake.phone.menu.2.ring[0]", "unknown contact"),
        (
            {"menu": {"2": {"channel": "phone", "ring": ["support-team"]}}},
            "intake.phone.menu.2.ring",
            "no phone number",
        ),
        (
            {"menu": {"2": {"channel": "phone", "ring": ["oncall-1"], "rotation": "oncall"}}},
            "intake.phone.menu.2",
            "not both",
        ),
        ({"menu": {"12": {"channel": "phone"}}}, "intake.phone.menu", "not one digit"),
        ({"menu": {"2": {"channel": "chat"}}}, "intake.phone.menu.2.channel", ""),
        ({"menu": {"2": {"channel": "phone", "hours": "sometimes"}}}, "intake.phone.menu.2.hours", ""),
        ({"voicemail": {"max_seconds": 0}}, "intake.phone.voicemail.max_seconds", ""),
        ({"voicemail": {"prompt": "hi", "beep": True}}, "intake.phone.voicemail.beep", "unknown key"),
    ],
)
def test_a_phone_section_that_cannot_work_is_a_load_error_naming_the_field(phone, field, problem):
    with pytest.raises(PolicyError) as refused:
        parse_policy(blub0x_with(phone), "blub0x.yaml")

    named = dict(refused.value.problems)
    assert field in named, refused.value
    assert problem in named[field]


def test_menu_digits_may_be_written_as_numbers_and_old_extension_maps_still_load():
    policy = parse_policy(blub0x_with({"menu": {6: {"channel": "emergency_line", "rotation": "oncall"}}}), "b.yaml")

    assert list(policy.intake.phone.menu) == ["6"]
    assert policy.intake.extensions == {"2": "phone", "6": "emergency_line"}
    without = yaml.safe_load((REPO / "policies" / "blub0x.yaml").read_text())
    del without["intake"]["phone"]
    assert parse_policy(yaml.safe_dump(without), "old.yaml").intake.phone is None
