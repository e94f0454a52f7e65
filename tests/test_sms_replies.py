"""An on-call engineer answers a page by text (`POST /v1/twilio/sms`, Decision 11): `ACK` or `1` acknowledges the
case the number was paged about most recently, anything else is a comment by that contact, a number nobody paged
gets a polite reply and nothing else, and Twilio's repeat of the same message changes nothing twice.
"""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from delivery_fixtures import TWILIO_TOKEN
from gateway_fixtures import PUBLIC_URL, Gateway, gateway  # noqa: F401
from support import eventually
from twilio.request_validator import RequestValidator

from archive.pages import latest_page_to
from archive.store import archive_at, archive_url
from starter.client import case_id
from starter.gateway import twilio_routes
from starter.gateway.app import create_app
from starter.gateway.settings import GatewaySettings
from workflows.contracts import CaseRequest, CaseStatus

GATEWAY_TOKEN = "twilio-test-token"  # what gateway_fixtures sets as TWILIO_AUTH_TOKEN
ONCALL_1 = "+15555550201"
EASTERN = ZoneInfo("America/New_York")
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/ACtest/Recordings/RE00000000000000000000000000000000"


def signed(url: str, params: dict[str, str], token: str) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


async def text(http: httpx.AsyncClient, token: str, sender: str, body: str, sid: str | None = None) -> httpx.Response:
    url = f"{PUBLIC_URL}/v1/twilio/sms"
    params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "From": sender, "To": "+15555550199", "Body": body}
    return await http.post(url, data=params, headers=signed(url, params, token))


def said(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    return " ".join(message.text or "" for message in ET.fromstring(answer.content).iter("Message"))


async def paged_case(gw: Gateway) -> str:
    """A BluB0X emergency-line voicemail: its `emergency_intake` ladder texts and calls oncall-1 at once."""
    body = {"caller_number": "+15555550142", "transcription": "Lobby doors offline.", "extension": 6}
    answer = await gw.post("/v1/intake/voicemail?tenant=blub0x", json=body)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]

    async def texted():
        return [r for r in gw.twilio.requests if r.form().get("To") == ONCALL_1 and case_id in r.form().get("Body", "")]

    assert await eventually(texted), "oncall-1 was never texted"

    async def logged():
        # The worker logs a page just after Twilio took it; a machine replies faster than that.
        page = await asyncio.to_thread(latest_page_to, archive_at(archive_url()), ONCALL_1, datetime.now(UTC))
        return page is not None and page.case_id == case_id

    assert await eventually(logged), "oncall-1's page to this case was never logged"
    return case_id


async def test_a_reply_of_ack_from_the_paged_number_stops_the_rotation_once(gateway: Gateway):
    case_id = await paged_case(gateway)
    sid = "SM" + uuid.uuid4().hex

    first = said(await text(gateway.http, GATEWAY_TOKEN, ONCALL_1, " ack ", sid))
    again = await text(gateway.http, GATEWAY_TOKEN, ONCALL_1, " ack ", sid)  # Twilio retrying the same message

    assert f"Acknowledged {case_id}" in first and again.status_code == 200
    status = await gateway.status(case_id)
    assert status.escalation.running == [] and status.escalation.acknowledged_by == "oncall-1"
    (acknowledged,) = [e for e in status.timeline if e.event == "acknowledged"]
    assert acknowledged.detail["actor"] == {"kind": "sms", "name": "oncall-1"}


async def test_any_other_reply_is_a_comment_by_that_contact_and_paging_goes_on(gateway: Gateway):
    case_id = await paged_case(gateway)

    answer = said(await text(gateway.http, GATEWAY_TOKEN, ONCALL_1, "On my way, 20 minutes out"))

    assert f"Added to {case_id}" in answer
    status = await gateway.status(case_id)
    comments = [e.detail for e in status.timeline if e.event == "comment"]
    assert {"author": "oncall-1", "text": "On my way, 20 minutes out"}.items() <= comments[-1].items()
    assert "emergency_intake" in status.escalation.running


async def test_a_number_nobody_paged_gets_a_polite_reply_and_nothing_changes(gateway: Gateway):
    answer = said(await text(gateway.http, GATEWAY_TOKEN, "+15555550999", "ACK"))
    assert "no recent page" in answer


async def test_an_unsigned_or_forged_reply_is_refused(gateway: Gateway):
    url = f"{PUBLIC_URL}/v1/twilio/sms"
    params = {"MessageSid": "SMforged", "From": ONCALL_1, "Body": "ACK"}
    assert (await gateway.http.post(url, data=params)).status_code == 403
    forged = await gateway.http.post(url, data=params, headers=signed(url, params, "not-the-token"))
    assert forged.status_code == 403


@pytest.fixture
def saturday_2am_gateway(case_env, monkeypatch) -> tuple[httpx.AsyncClient, list[datetime]]:
    """The gateway on the time-skipping server's clock: calls and texts arrive when the test says they do."""
    monkeypatch.setenv("SUPPORTFLOW_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", case_env.queue)
    moment: list[datetime] = []
    monkeypatch.setattr(twilio_routes, "receipt_time", lambda: moment[0])

    async def same_client():
        return case_env.client

    app = create_app(client_factory=same_client, settings=GatewaySettings.from_env())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, timeout=60), moment


async def test_nobody_answers_at_2am_on_a_saturday_the_voicemail_pages_the_rotation_and_an_sms_ack_stops_it(
    case_env, saturday_2am_gateway
):
    http, moment = saturday_2am_gateway
    token = TWILIO_TOKEN  # the twilio_receiver fixture's TWILIO_AUTH_TOKEN, which the gateway checks
    saturday = datetime(2030, 1, 12, 2, 0, tzinfo=EASTERN)
    await case_env.skip_to(saturday)
    moment.append(saturday)
    call = "CA" + uuid.uuid4().hex

    async def twilio(path: str, **fields: str) -> ET.Element:
        url = f"{PUBLIC_URL}/v1/twilio/voice{path}"
        params = {"CallSid": call, "AccountSid": "ACtest", "From": "+15555550142", "To": "+15555550100"} | fields
        answer = await http.post(url, data=params, headers=signed(url, params, token))
        assert answer.status_code == 200, answer.text
        return ET.fromstring(answer.content)

    dialing = await twilio("/menu?tenant=blub0x&tries=0", Digits="6")
    for _ in range(3):  # each on-call member in turn, nobody answers
        dialing = await twilio(dialing.find("Dial").get("action").removeprefix(f"{PUBLIC_URL}/v1/twilio/voice"),
                               DialCallStatus="no-answer")  # fmt: skip
    record = dialing.find("Record")
    await twilio(record.get("action").removeprefix(f"{PUBLIC_URL}/v1/twilio/voice"), RecordingUrl=RECORDING)

    case = case_env.client.get_workflow_handle(
        case_id(CaseRequest(tenant="blub0x", channel="emergency_line", source_id=call)), result_type=CaseStatus
    )
    opened = await case_env.status(case)
    assert opened.received_at == saturday and "emergency_intake" in opened.escalation.running
    await case_env.skip_to(saturday + timedelta(minutes=6))  # oncall-1 texted at once, oncall-2 five minutes later
    moment[0] = saturday + timedelta(minutes=6)
    texted = {request.form()["To"] for request in case_env.twilio.requests if "Messages" in request.path}
    assert {ONCALL_1, "+15555550202"} <= texted

    answer = said(await text(http, token, "+15555550202", "1"))

    assert f"Acknowledged {opened.case_id}" in answer
    status = await case_env.status(case)
    assert status.escalation.running == [] and status.escalation.acknowledged_by == "oncall-2"
    pages_before = len(case_env.pages("emergency_intake"))
    await case_env.skip_to(saturday + timedelta(minutes=30))
    assert len(case_env.pages("emergency_intake")) == pages_before, "the rotation kept paging after the ACK"
