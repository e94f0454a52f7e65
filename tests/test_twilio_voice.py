"""The tenant's phone number through the gateway, driven exactly as Twilio drives it: form posts signed
with the twilio library's own algorithm, to the absolute callback URLs the previous TwiML named, one
callback after another (no answer, busy, answered, recording done, transcription). The TwiML is parsed
as XML; cases are read through the gateway and Temporal (a real dev server and the production worker).
"""

from __future__ import annotations

import dataclasses
import os
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import yaml
from gateway_fixtures import PUBLIC_URL, Gateway, gateway  # noqa: F401
from support import REPO
from temporalio.service import RPCError
from twilio.request_validator import RequestValidator

from starter.client import case_id
from workflows.contracts import CaseRequest, CaseStatus

TOKEN = "twilio-test-token"  # what gateway_fixtures sets as TWILIO_AUTH_TOKEN
CALLER = "+15555550123"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/RE0123456789abcdef0123456789abcdef"


def copy_of(shipped: str, tenant: str, change) -> None:
    policy = yaml.safe_load((REPO / "policies" / f"{shipped}.yaml").read_text())
    policy["tenant"] = tenant
    change(policy)
    (Path(os.environ["SUPPORTFLOW_POLICY_DIR"]) / f"{tenant}.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))


@pytest_asyncio.fixture(scope="module")
async def phones(gateway: Gateway) -> AsyncIterator[Gateway]:
    """Tenants the tests have not seen in the shipped files: BluB0X open around the clock, BluB0X on a
    holiday today, and blockit without a phone section."""

    def always_open(policy: dict) -> None:
        policy["calendar"]["hours"] = {
            day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }

    def closed_today(policy: dict) -> None:
        today = datetime.now(ZoneInfo(policy["calendar"]["timezone"])).date()
        policy["calendar"]["holidays"] = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]

    copy_of("blub0x", "acme-open", always_open)
    copy_of("blub0x", "acme-closed", closed_today)
    copy_of("blockit", "quietco", lambda policy: policy["intake"].pop("phone"))
    yield gateway


class Call:
    """One phone call as Twilio makes it: the same CallSid and caller on every request, each signed."""

    def __init__(self, gw: Gateway, tenant: str, caller: str = CALLER):
        self.gw, self.tenant, self.caller = gw, tenant, caller
        self.sid = "CA" + uuid.uuid4().hex

    async def post(self, url: str, token: str = TOKEN, **fields: str):
        params = {"CallSid": self.sid, "AccountSid": "ACtest", "From": self.caller, "To": "+15555550100"} | fields
        signature = RequestValidator(token).compute_signature(url, params)
        return await self.gw.http.post(url, data=params, headers={"X-Twilio-Signature": signature})

    async def twiml(self, url: str, **fields: str) -> ET.Element:
        answer = await self.post(url, **fields)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/xml")
        return ET.fromstring(answer.content)

    async def ring(self) -> ET.Element:
        return await self.twiml(f"{PUBLIC_URL}/v1/twilio/voice?tenant={self.tenant}")

    def case_id(self, channel: str) -> str:
        return case_id(CaseRequest(tenant=self.tenant, channel=channel, source_id=self.sid))


async def case_of(gw: Gateway, case: str) -> CaseStatus:
    return await gw.status(case)


async def started_with(gw: Gateway, case: str) -> CaseRequest:
    """The CaseRequest the case was started with (the first event of its history)."""
    history = await gw.client.get_workflow_handle(case).fetch_history()
    start = history.events[0].workflow_execution_started_event_attributes
    (request,) = await gw.client.data_converter.decode(start.input.payloads, [CaseRequest])
    return request


async def no_case(gw: Gateway, case: str) -> bool:
    try:
        await gw.client.get_workflow_handle(case).describe()
    except RPCError:
        return True
    return False


# --- the emergency line: live call routing ---------------------------------------


async def test_ext_6_nobody_answers_so_the_voicemail_opens_an_emergency_case_and_the_transcription_amends_it(
    phones,
):
    gw = phones
    call = Call(gw, "blub0x")
    menu = (await call.ring()).find("Gather").get("action")

    dialing = await call.twiml(menu, Digits="6")
    tried = [dialing.find("Dial/Number").text]
    for status in ("no-answer", "busy"):
        dialing = await call.twiml(dialing.find("Dial").get("action"), DialCallStatus=status, DialCallDuration="0")
        tried.append(dialing.find("Dial/Number").text)
    voicemail = await call.twiml(dialing.find("Dial").get("action"), DialCallStatus="no-answer")

    assert tried == ["+15555550201", "+15555550202", "+15555550203"]
    record = voicemail.find("Record")
    assert record is not None and "time-critical" in " ".join(s.text for s in voicemail.iter("Say"))

    done = await call.twiml(record.get("action"), RecordingUrl=RECORDING, RecordingDuration="35", Digits="#")

    assert [child.tag for child in done] == ["Say", "Hangup"] and "paged" in done.find("Say").text
    case = call.case_id("emergency_line")
    status = await case_of(gw, case)
    assert (status.channel, status.severity, status.requester.phone) == ("emergency_line", 1, CALLER)
    assert "emergency_intake" in status.escalation.running
    assert (await started_with(gw, case)).recording_url == RECORDING
    assert "description" in status.missing

    transcription = await call.post(
        record.get("transcribeCallback"),
        TranscriptionText="This is Dana at Harbor Point, the lobby doors will not unlock.",
        TranscriptionStatus="completed",
        RecordingUrl=RECORDING,
    )

    assert transcription.status_code == 204
    amended = await case_of(gw, case)
    assert "description" not in amended.missing
    assert [e.detail["fields"] for e in amended.timeline if e.event == "amended"] == [["description"]]


async def test_a_repeated_callback_for_the_same_call_is_the_same_case_and_amends_once(phones):
    gw = phones
    call = Call(gw, "blub0x")
    recorded = f"{PUBLIC_URL}/v1/twilio/voice/recorded?tenant=blub0x&line=6"
    transcribed = f"{PUBLIC_URL}/v1/twilio/voice/transcribed?tenant=blub0x&line=6"
    said = {"TranscriptionText": "Garage gate stuck open.", "TranscriptionStatus": "completed"}

    first = await call.twiml(recorded, RecordingUrl=RECORDING)
    again = await call.twiml(recorded, RecordingUrl=RECORDING)
    for _ in range(2):
        assert (await call.post(transcribed, RecordingUrl=RECORDING, **said)).status_code == 204

    assert ET.tostring(first) == ET.tostring(again)
    cases = await gw.case_ids(f"WorkflowId = '{call.case_id('emergency_line')}'")
    assert len(cases) == 1
    status = await case_of(gw, call.case_id("emergency_line"))
    assert [e.event for e in status.timeline].count("amended") == 1


async def test_ext_6_the_second_member_answers_and_takes_the_call(phones):
    gw = phones
    call = Call(gw, "blub0x")
    dialing = await call.twiml(f"{PUBLIC_URL}/v1/twilio/voice/menu?tenant=blub0x&tries=0", Digits="6")
    dialing = await call.twiml(dialing.find("Dial").get("action"), DialCallStatus="no-answer")

    hung_up = await call.twiml(dialing.find("Dial").get("action"), DialCallStatus="completed", DialCallDuration="240")

    assert [child.tag for child in hung_up] == ["Hangup"]
    case = call.case_id("emergency_line")
    request = await started_with(gw, case)
    assert (request.answered_by, request.channel, request.requester.phone) == ("oncall-2", "emergency_line", CALLER)
    assert (await case_of(gw, case)).channel == "emergency_line"


async def test_an_answered_emergency_call_opens_already_responded_by_that_member_and_pages_nobody(phones):
    gw = phones
    call = Call(gw, "blub0x")
    await call.twiml(
        f"{PUBLIC_URL}/v1/twilio/voice/dialed?tenant=blub0x&line=6&member=0",
        DialCallStatus="completed",
        DialCallDuration="60",
    )

    status = await case_of(gw, call.case_id("emergency_line"))

    assert status.responded_at is not None and status.escalation.acknowledged_by == "oncall-1"
    assert "emergency_intake" not in status.escalation.running


# --- the support line: business hours ------------------------------------------------


async def test_ext_2_in_business_hours_rings_the_engineers_and_an_answered_call_opens_no_case(phones):
    gw = phones
    call = Call(gw, "acme-open")
    ringing = await call.twiml(f"{PUBLIC_URL}/v1/twilio/voice/menu?tenant=acme-open&tries=0", Digits="2")

    assert [n.text for n in ringing.iter("Number")] == ["+15555550211", "+15555550212"]
    done = await call.twiml(ringing.find("Dial").get("action"), DialCallStatus="completed", DialCallDuration="90")

    assert [child.tag for child in done] == ["Hangup"]
    assert await no_case(gw, call.case_id("phone"))


async def test_ext_2_unanswered_in_business_hours_takes_a_voicemail_that_opens_a_regular_case(phones):
    gw = phones
    call = Call(gw, "acme-open")
    ringing = await call.twiml(f"{PUBLIC_URL}/v1/twilio/voice/menu?tenant=acme-open&tries=0", Digits="2")
    voicemail = await call.twiml(ringing.find("Dial").get("action"), DialCallStatus="no-answer")

    await call.twiml(voicemail.find("Record").get("action"), RecordingUrl=RECORDING, RecordingDuration="20")

    status = await case_of(gw, call.case_id("phone"))
    assert (status.channel, status.severity, status.escalation.running) == ("phone", 2, [])


async def test_ext_2_after_hours_goes_to_voicemail_and_the_case_waits_for_the_next_business_day(phones):
    gw = phones
    call = Call(gw, "acme-closed")
    voicemail = await call.twiml(f"{PUBLIC_URL}/v1/twilio/voice/menu?tenant=acme-closed&tries=0", Digits="2")

    assert voicemail.find("Dial") is None and "closed" in voicemail.find("Say").text
    await call.twiml(voicemail.find("Record").get("action"), RecordingUrl=RECORDING, RecordingDuration="20")

    status = await case_of(gw, call.case_id("phone"))
    today = datetime.now(ZoneInfo("America/New_York")).date()
    assert status.response_due_at.astimezone(ZoneInfo("America/New_York")).date() > today + timedelta(days=1)


# --- blockit's monitored voicemail ---------------------------------------------------


async def test_blockits_number_goes_straight_to_voicemail_which_opens_a_voicemail_case_without_phi(phones):
    gw = phones
    call = Call(gw, "blockit")
    answered = await call.ring()

    record = answered.find("Record")
    assert answered.find("Gather") is None and record is not None
    await call.twiml(record.get("action"), RecordingUrl=RECORDING, RecordingDuration="30")
    said = "Scheduling is down for our clinic. Patient date of birth 04/12/1961 cannot be entered."
    await call.post(record.get("transcribeCallback"), TranscriptionText=said, TranscriptionStatus="completed")

    case = call.case_id("voicemail")
    status = await case_of(gw, case)
    assert status.channel == "voicemail" and "description" not in status.missing
    assert "04/12/1961" not in await gw.history_text(case)


# --- what is refused ---------------------------------------------------------------


async def test_a_tenant_without_a_phone_section_hears_so_and_the_call_hangs_up(phones):
    for tenant in ("quietco", "nobody-here"):
        answered = await Call(phones, tenant).ring()

        assert [child.tag for child in answered] == ["Say", "Hangup"]
        assert "not set up" in answered.find("Say").text


@pytest.mark.parametrize(
    "how", ["unsigned", "wrong token", "tampered field", "another tenant in the query", "another host"]
)
async def test_a_badly_signed_request_is_403_and_starts_nothing(phones, how):
    gw = phones
    call = Call(gw, "blub0x")
    url = f"{PUBLIC_URL}/v1/twilio/voice/recorded?tenant=blub0x&line=6"
    params = {"CallSid": call.sid, "From": CALLER, "RecordingUrl": RECORDING}
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature}
    if how == "unsigned":
        headers = {}
    elif how == "wrong token":
        headers = {"X-Twilio-Signature": RequestValidator("not-the-token").compute_signature(url, params)}
    elif how == "tampered field":
        params = params | {"From": "+15555550999"}
    elif how == "another tenant in the query":
        url = url.replace("tenant=blub0x", "tenant=acme-open")
    else:
        headers = {
            "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                url.replace(PUBLIC_URL, "https://evil.example"), params
            )
        }

    answer = await gw.http.post(url, data=params, headers=headers)

    assert answer.status_code == 403, answer.text
    assert "X-Twilio-Signature" in answer.json()["error"]
    assert await no_case(gw, call.case_id("emergency_line"))


async def test_without_a_twilio_auth_token_every_twilio_route_is_503_saying_why(phones):
    gw = phones
    configured = gw.app.state.settings
    gw.app.state.settings = dataclasses.replace(
        configured, delivery=dataclasses.replace(configured.delivery, twilio_auth_token=None)
    )
    try:
        answer = await Call(gw, "blub0x").post(f"{PUBLIC_URL}/v1/twilio/voice?tenant=blub0x")
    finally:
        gw.app.state.settings = configured

    assert answer.status_code == 503 and "TWILIO_AUTH_TOKEN" in answer.json()["error"]


async def test_a_number_whose_voice_webhook_is_configured_as_get_is_answered_too(phones):
    call = Call(phones, "blub0x")
    url = f"{PUBLIC_URL}/v1/twilio/voice?tenant=blub0x&CallSid={call.sid}&From=%2B15555550123"
    signature = RequestValidator(TOKEN).compute_signature(url, {})

    answer = await phones.http.get(url, headers={"X-Twilio-Signature": signature})
    forged = await phones.http.get(url.replace("blub0x&", "blockit&"), headers={"X-Twilio-Signature": signature})

    assert answer.status_code == 200 and ET.fromstring(answer.content).find("Gather") is not None
    assert forged.status_code == 403
