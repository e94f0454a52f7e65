"""`POST /v1/twilio/voice?tenant=T` and its callbacks: the tenant's phone number, answered in TwiML
(DESIGN "Phone, SMS, mailbox and chat", Decisions 7, 9, 10, 11).

No API key (Decision 7): every request must carry Twilio's `X-Twilio-Signature`,
checked with the twilio library's RequestValidator and TWILIO_AUTH_TOKEN
against SUPPORTFLOW_PUBLIC_URL + the path and query Twilio requested. A bad
or missing signature is a 403 before anything else happens; without a token
every request is a 503 that says so. The call flow itself is pure
(`starter/phone`); here it meets HTTP, the policy file, the clock and Temporal.
A repeated step is harmless (Decision 11): the TwiML is a function of the
request, and every case a call opens is keyed by its CallSid.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from temporalio.client import Client
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, RequestValidator
from twilio.request_validator import get_signature_algorithm as signature_algorithm
from twilio.twiml.voice_response import VoiceResponse

import tenant_policies
from starter import client as cases
from starter.admission import Refused, admit
from starter.gateway.errors import FieldErrors, Forbidden, Unavailable
from starter.gateway.responses import ErrorBody, Responses
from starter.intake import redact
from starter.phone import call_flow
from starter.phone.call_cases import TwilioCall, answered_request, voicemail_request
from workflows.contracts import Amend, CaseRequest
from workflows.policy import LoadedPolicy

log = logging.getLogger("supportflow.gateway.twilio")
TENANT = re.compile(r"[a-z0-9][a-z0-9_-]*")
TWIML = "application/xml"


async def signed_form(http: Request) -> dict[str, str]:
    """The form Twilio posted, its signature checked; anything else is refused before it can start anything."""
    settings = http.app.state.settings.delivery
    if not settings.twilio_auth_token:
        raise Unavailable("TWILIO_AUTH_TOKEN is not set for the gateway, so no Twilio request can be verified")
    # A webhook configured as GET carries Twilio's fields in the query, which the signed URL already covers.
    form = await http.form() if http.method == "POST" else None
    fields = form if form is not None else http.query_params
    url = settings.public_url + http.url.path + (f"?{http.url.query}" if http.url.query else "")
    signature = http.headers.get(SIGNATURE_HEADER, "")
    algorithm = signature_algorithm(http.headers.get(SIGNATURE_SETTINGS_HEADER))
    if not signature or not RequestValidator(settings.twilio_auth_token).validate(
        url, form or {}, signature, algorithm
    ):
        raise Forbidden(
            "the X-Twilio-Signature is missing or does not match; check TWILIO_AUTH_TOKEN, and that "
            f"SUPPORTFLOW_PUBLIC_URL ({settings.public_url}) is the address Twilio calls"
        )
    return {key: value for key, value in fields.items() if isinstance(value, str)}


async def twilio_call(http: Request) -> TwilioCall:
    try:
        return TwilioCall.model_validate(await signed_form(http))
    except ValidationError as invalid:
        raise FieldErrors([(".".join(map(str, e["loc"])), e["msg"]) for e in invalid.errors()]) from None


SignedCall = Annotated[TwilioCall, Depends(twilio_call)]
Tenant = Annotated[str, Query(max_length=100, description="The tenant whose policy answers the call")]
SIGNED: Responses = {403: {"model": ErrorBody}, 503: {"model": ErrorBody}}
router = APIRouter(prefix="/v1/twilio/voice", tags=["twilio"], responses=SIGNED)


@router.post("", summary="Twilio voice webhook: a call to the tenant's number", response_class=Response)
@router.get("", summary="The same, for a number whose webhook is set to GET", response_class=Response)
async def incoming_call(call: SignedCall, http: Request, tenant: Tenant = "", tries: int = 0) -> Response:
    """The greeting and menu of `intake.phone`, or straight to voicemail; a tenant without a phone section
    hears that this number is not set up."""
    loaded = phone_policy(tenant)
    if loaded is None:
        return twiml(call_flow.not_set_up())
    return twiml(call_flow.answer(loaded.policy, callbacks(http, tenant), tries))


@router.post("/menu", summary="The digit a caller pressed", response_class=Response)
async def menu_choice(call: SignedCall, http: Request, tenant: Tenant = "", tries: int = 0) -> Response:
    loaded = phone_policy(tenant)
    if loaded is None:
        return twiml(call_flow.not_set_up())
    return twiml(call_flow.choose(loaded.policy, call.digits, callbacks(http, tenant), open_now(loaded), tries))


@router.post("/dialed", summary="How a dialled line or rotation member answered", response_class=Response)
async def dialed(
    call: SignedCall, http: Request, tenant: Tenant = "", line: str | None = None, member: int | None = None
) -> Response:
    """A rotation member who answered took the call: the case opens already theirs (Decision 9)."""
    loaded = phone_policy(tenant)
    if loaded is None:
        return twiml(call_flow.not_set_up())
    policy = loaded.policy
    outcome = call_flow.after_dial(policy, line, member, call.dial_call_status, callbacks(http, tenant))
    if outcome.answered_by:
        channel = call_flow.line_channel(policy, line)
        request = answered_request(policy, channel, call, outcome.answered_by, receipt_time())
        if await open_call_case(http, request, loaded) is None:
            log.error("twilio: call %s answered by %s opened no case", call.call_sid, outcome.answered_by)
    return twiml(outcome.twiml)


@router.post("/recorded", summary="A voicemail was recorded: it opens the case", response_class=Response)
async def recorded(call: SignedCall, http: Request, tenant: Tenant = "", line: str | None = None) -> Response:
    loaded = phone_policy(tenant)
    if loaded is None:
        return twiml(call_flow.not_set_up())
    channel = call_flow.line_channel(loaded.policy, line)
    opened = await open_call_case(http, voicemail_request(loaded.policy, channel, call, receipt_time()), loaded)
    if opened is None:
        return twiml(_apology())
    return twiml(call_flow.recorded(channel))


@router.post("/transcribed", summary="Twilio's transcription of a voicemail: it amends the description")
async def transcribed(call: SignedCall, http: Request, tenant: Tenant = "", line: str | None = None) -> Response:
    """Opens the case too if the recording callback never got through (the CallSid makes it the same case)."""
    loaded = phone_policy(tenant)
    if loaded is None:
        return Response(status_code=204)
    policy = loaded.policy
    channel = call_flow.line_channel(policy, line)
    opened = await open_call_case(http, voicemail_request(policy, channel, call, receipt_time()), loaded)
    text = (call.transcription_text or "").strip()
    if opened is None or call.transcription_status != "completed" or not text:
        return Response(status_code=204)
    if policy.intake.redact_phi:
        text, _ = redact(text)
    client = await http.app.state.temporal.client()
    await amend_once(client, opened, Amend(description=text), f"transcription-{call.call_sid}")
    return Response(status_code=204)


def phone_policy(tenant: str) -> LoadedPolicy | None:
    """The tenant's policy with its holidays (for `hours: business`), or None when a call cannot use it."""
    try:
        loaded = tenant_policies.loaded_policy(tenant, receipt_time().year)
    except tenant_policies.UnknownTenant:
        return None
    except (tenant_policies.PolicyError, OSError) as problem:
        log.error("twilio: the %s policy cannot answer calls: %s", tenant, problem)
        return None
    return loaded if loaded.policy.intake.phone is not None else None


def open_now(loaded: LoadedPolicy) -> bool:
    return loaded.business_calendar().is_open(receipt_time())


async def open_call_case(http: Request, request: CaseRequest, policy: LoadedPolicy) -> str | None:
    """Start the call's case, or find the one its CallSid already opened. None (logged) when Temporal failed:
    Twilio cannot wait, and the transcription callback will try again."""
    try:
        client = await http.app.state.temporal.client()
        return (await cases.start_case(client, admit(request, policy.policy, receipt_time()), policy)).case_id
    except (cases.CaseError, Refused) as problem:
        log.error("twilio: could not open %s for call %s: %s", cases.case_id(request), request.source_id, problem)
        return None


async def amend_once(client: Client, case: str, amend: Amend, update_id: str) -> None:
    """Temporal keeps one result per update id, so Twilio's repeat of a callback amends the case once."""
    try:
        await cases.run_update(client, case, "amend", amend, update_id=update_id)
    except cases.CaseError as problem:
        log.warning("twilio: could not amend %s: %s", case, problem)


def callbacks(http: Request, tenant: str) -> call_flow.Callbacks:
    return call_flow.Callbacks(http.app.state.settings.delivery.public_url, tenant)


def receipt_time() -> datetime:
    return datetime.now(UTC)


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type=TWIML)


def _apology() -> VoiceResponse:
    response = VoiceResponse()
    response.say("Sorry, we could not take your message just now. Please call again, or email support. Goodbye.")
    response.hangup()
    return response
