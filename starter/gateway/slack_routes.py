"""`POST /v1/slack/interactions`: the Acknowledge button on a Slack page (DESIGN "Phone, SMS, mailbox and chat").

No API key (Decision 7): Slack signs every request with the app's signing
secret, checked by slack_sdk's SignatureVerifier (a timestamp more than five
minutes off is refused, so a captured request cannot be replayed later). The
button's value is a signed acknowledgement token, so the case and the page
are ours; the acknowledgement is credited to the Slack user who pressed it,
and the message is updated through the interaction's `response_url`.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from slack_sdk.signature import SignatureVerifier

from activities.channels import slack, tls
from signed_links import AckLinkError, verify_ack_token
from starter import client as cases
from starter.gateway.openapi import form_body
from starter.gateway.responses import ErrorBody
from workflows.contracts import Acknowledge, Actor

router = APIRouter(tags=["slack"])
log = logging.getLogger("supportflow.gateway.slack")
STALE_AFTER = 5 * 60  # seconds; Slack's own rule, and SignatureVerifier's
RESPONSE_URL_TIMEOUT = 10.0


class SlackUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    username: str | None = None
    name: str | None = None

    @property
    def display(self) -> str:
        return self.username or self.name or self.id


class SlackAction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action_id: str
    value: str | None = None


class SlackInteraction(BaseModel):
    """The part of Slack's `block_actions` payload a page's button needs."""

    model_config = ConfigDict(extra="ignore")

    type: str
    user: SlackUser
    actions: list[SlackAction] = []
    response_url: str | None = None
    message: dict[str, Any] | None = None


@router.post(
    "/v1/slack/interactions",
    summary="Slack interactivity: the Acknowledge button on a page",
    responses={
        200: {"description": "Handled; Slack is told the outcome through response_url"},
        400: {"model": ErrorBody},
        403: {"model": ErrorBody, "description": "Missing, wrong or stale Slack signature"},
        503: {"model": ErrorBody, "description": "SLACK_SIGNING_SECRET is not set"},
    },
    openapi_extra=form_body({"payload": "the interaction, as JSON"}, required=["payload"]),
)
async def slack_interaction(http: Request) -> Response:
    """Form-encoded `payload` as Slack sends it, signed with `X-Slack-Signature` and `X-Slack-Request-Timestamp`."""
    secret = http.app.state.settings.delivery.slack_signing_secret
    if not secret:
        return _error(503, "SLACK_SIGNING_SECRET is not set for the gateway, so no Slack request can be verified")
    body = await http.body()
    refused = _signature_problem(SignatureVerifier(secret), body, http.headers)
    if refused:
        return _error(403, refused)
    try:
        interaction = SlackInteraction.model_validate(json.loads(parse_qs(body.decode())["payload"][0]))
    except (KeyError, IndexError, ValueError, ValidationError):
        return _error(400, "the body has no Slack interaction `payload`")
    button = next((a for a in interaction.actions if a.action_id == slack.ACKNOWLEDGE_ACTION), None)
    if interaction.type != "block_actions" or button is None:
        return Response(status_code=200)  # some other interaction of the app: not ours to answer
    reply = await _acknowledge(http, button.value or "", interaction)
    if interaction.response_url:
        await _tell_slack(interaction.response_url, reply)
    return Response(status_code=200)


def _signature_problem(verifier: SignatureVerifier, body: bytes, headers: Any) -> str | None:
    stamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
    if not stamp or not signature or not stamp.isdigit():
        return "the request carries no Slack signature"
    if abs(time.time() - int(stamp)) > STALE_AFTER:
        return "the Slack request timestamp is more than 5 minutes off; it is stale or replayed"
    if not verifier.is_valid(body=body, timestamp=stamp, signature=signature):
        return "the Slack signature does not match this request"
    return None


async def _acknowledge(http: Request, token: str, interaction: SlackInteraction) -> dict[str, Any]:
    """Run `acknowledge {by: <Slack user>}`; the answer is what the message becomes, or a note to the presser."""
    now = datetime.now(UTC)
    try:
        claim = verify_ack_token(token, now, http.app.state.settings.delivery.secret("ack"))
    except AckLinkError as problem:
        return slack.private_note(str(problem))
    by = interaction.user.display
    try:
        client = await http.app.state.temporal.client()
        acknowledged = Acknowledge(by=by, actor=Actor(kind="slack", name=by))
        await cases.run_update(client, claim.case_id, "acknowledge", acknowledged)
    except cases.CaseNotFound:
        return slack.private_note(f"{claim.case_id} does not exist (any more).")
    except (cases.UpdateRejected, cases.CaseClosed) as refused:
        return slack.private_note(f"Nothing to acknowledge on {claim.case_id}: {refused.message}")
    except cases.CaseError as trouble:
        return slack.private_note(f"The acknowledgement did not go through; press again. ({trouble.message})")
    log.info("slack: %s acknowledged %s", by, claim.case_id)
    return slack.acknowledged_message(interaction.message or {}, by, now)


async def _tell_slack(response_url: str, reply: dict[str, Any]) -> None:
    """The acknowledgement already happened; a failure here only leaves the button showing, so it is logged."""
    try:
        async with httpx.AsyncClient(timeout=RESPONSE_URL_TIMEOUT, verify=tls.for_http()) as client:
            answer = await client.post(response_url, json=reply)
        if answer.status_code >= 300:
            log.warning("slack: response_url answered HTTP %d", answer.status_code)
    except httpx.HTTPError as problem:
        log.warning("slack: response_url could not be reached: %s", type(problem).__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(error=message).model_dump(), status_code=status)
