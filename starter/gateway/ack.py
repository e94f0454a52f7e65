"""`/v1/ack/{token}`: the paged engineer's tap (and confirm) that stops the ladder. No API key: the signed link is the credential.

A phone call's TwiML webhook may open the same link (Twilio adds `CallSid`,
`Digits` and more); it gets a spoken answer instead of a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from signed_links import AckClaim, AckLinkError, AckLinkExpired, verify_ack_token
from starter import client as cases
from starter.gateway.errors import http_status
from starter.gateway.pages import message_page, page
from starter.gateway.responses import Responses
from workflows.contracts import Acknowledge, Actor

router = APIRouter(tags=["acknowledge"])
HTML = {"text/html": {"schema": {"type": "string"}}}
ANSWERS: Responses = {
    200: {
        "description": "A page (the confirmation, or acknowledged); TwiML when Twilio's voice webhook calls",
        "content": HTML | {"text/xml": {"schema": {"type": "string"}}},
    },
    400: {"description": "The link is damaged, incomplete, altered, or was not issued here", "content": HTML},
    404: {"description": "The case the link names does not exist (any more)", "content": HTML},
    409: {"description": "Nothing to acknowledge: no escalation is running, or the case is closed", "content": HTML},
    410: {"description": "The link has expired", "content": HTML},
    503: {"description": "Temporal cannot be reached, or the case is still opening", "content": HTML},
    504: {"description": "The case did not answer in time", "content": HTML},
}


@router.get(
    "/v1/ack/{token}",
    response_class=Response,
    responses=ANSWERS,
    summary="Open an acknowledgement link",
    operation_id="acknowledge_link",
)
async def open_acknowledge_link(token: str, http: Request) -> Response:
    """A browser gets a one-button page that POSTs: link scanners in mail filters prefetch GETs,
    and a prefetch must never stop a page nobody read. A voice webhook (`CallSid`) acknowledges at once."""
    if "CallSid" in http.query_params:
        return await _acknowledge(token, http, voice=True)
    claim = _claim(token, http)
    if isinstance(claim, Response):
        return claim
    try:
        client = await http.app.state.temporal.client()
        case = await cases.case_status(client, claim.case_id)
    except cases.CaseNotFound:
        return _answer(False, "Unknown case", f"{claim.case_id} does not exist (any more).", 404)
    except cases.CaseError as trouble:
        return _answer(False, "Try again", f"the case could not be read: {trouble.message}", http_status(trouble))
    if not case.escalation.running:
        return _answer(
            False, "Nothing to acknowledge", f"{claim.case_id}: {_already('no escalation ladder is running')}", 409
        )
    return page(
        "Acknowledge this page?",
        f"<h1>Acknowledge this page?</h1><div class=card><p><strong>{escape(case.case_id)}</strong><br>"
        f"Sev{case.severity} {escape(case.severity_name)} · {escape(case.subject or '(no subject)')} · {escape(case.state)}</p>"
        f"<p>Paging now: {escape(', '.join(case.escalation.running))}.</p>"
        f"<form method=post><button type=submit>Acknowledge as {escape(claim.contact)}</button></form></div>",
    )


@router.post(
    "/v1/ack/{token}",
    response_class=Response,
    responses=ANSWERS,
    summary="Acknowledge a page",
    operation_id="acknowledge_link_confirm",
)
async def acknowledge_link(token: str, http: Request) -> Response:
    """Runs `acknowledge {by: <contact in the link>}` on the case the link names. Extra parameters are
    ignored; with `CallSid` (a Twilio voice webhook) the answer is TwiML."""
    voice = "CallSid" in http.query_params or "CallSid" in await _form_keys(http)
    return await _acknowledge(token, http, voice)


def _claim(token: str, http: Request, voice: bool = False) -> AckClaim | Response:
    try:
        return verify_ack_token(token, datetime.now(UTC), http.app.state.settings.delivery.secret("ack"))
    except AckLinkError as problem:
        status = 410 if isinstance(problem, AckLinkExpired) else 400
        return _answer(voice, "This link cannot acknowledge", str(problem), status)


async def _acknowledge(token: str, http: Request, voice: bool) -> Response:
    claim = _claim(token, http, voice)
    if isinstance(claim, Response):
        return claim
    try:
        client = await http.app.state.temporal.client()
        acknowledged = Acknowledge(by=claim.contact, actor=Actor(kind="ack_link", name=claim.contact))
        case = await cases.run_update(client, claim.case_id, "acknowledge", acknowledged)
    except cases.CaseNotFound:
        return _answer(voice, "Unknown case", f"{claim.case_id} does not exist (any more).", 404)
    except (cases.UpdateRejected, cases.CaseClosed) as refused:
        return _answer(voice, "Nothing to acknowledge", f"{claim.case_id}: {_already(refused.message)}", 409)
    except cases.CaseError as trouble:
        why = f"the acknowledgement did not go through: {trouble.message}"
        return _answer(voice, "Try again", why, http_status(trouble))
    if voice:
        return _twiml("Acknowledged")
    subject = escape(case.subject or "(no subject)")
    return page(
        "Acknowledged — paging stopped",
        f"<h1>Acknowledged — paging stopped</h1><div class=card><p class=ok>Thank you, {escape(claim.contact)}. "
        f"Every running escalation for this case has stopped.</p><p><strong>{escape(case.case_id)}</strong><br>"
        f"Sev{case.severity} {escape(case.severity_name)} · {subject} · {escape(case.state)}</p></div>",
    )


def _already(refusal: str) -> str:
    if "no escalation ladder is running" in refusal:
        return "someone already acknowledged it, or its escalation has finished, so nobody is being paged."
    return refusal


def _answer(voice: bool, title: str, message: str, status_code: int) -> Response:
    if voice:
        # Twilio reads a non-2xx answer as "an application error"; say what happened instead.
        return _twiml(f"{title}. {message}")
    return message_page(title, message, status_code)


def _twiml(sentence: str) -> Response:
    return Response(f"<Response><Say>{escape(sentence)}</Say></Response>", media_type="text/xml")


async def _form_keys(http: Request) -> set[str]:
    try:
        return set((await http.form()).keys())
    except Exception:
        return set()
