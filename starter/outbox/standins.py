"""HTTP stand-ins for the receivers a delivery would reach: chat and webhook endpoints, and Twilio's REST API.

The worker's real channel code talks to them (activities/outbox.py aims it
here), so they take the real request shapes: a webhook's JSON body, a chat
hook's `{"text"}`, Twilio's form-encoded Messages.json and Calls.json creates
with Basic auth. The Twilio stand-in refuses what Twilio refuses (a `To` that
is not E.164, a missing body, wrong credentials) with Twilio's error shape, so
such a delivery fails here as it would live, and the outbox shows why.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from activities.channels.text import SMS_LIMIT
from activities.channels.twilio import API_VERSION
from activities.outbox import HOOKS_PATH, OUTBOX_TWILIO_SID, OUTBOX_TWILIO_TOKEN, TWILIO_PATH
from starter.gateway.errors import field_error
from starter.outbox.state import Outbox, local_outbox
from starter.outbox.store import Captured

router = APIRouter(include_in_schema=False)
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# The acknowledgement link a message carries (signed_links.py), for the page to make clickable.
ACK_LINK = re.compile(r"https?://[^\s\"'<>]+/v1/ack/[A-Za-z0-9_\-.]+")
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=1000)]


@router.post(HOOKS_PATH)
async def hook(
    http: Request,
    to: Annotated[str, Query(max_length=4000)],
    idempotency_key: IdempotencyKey = None,
    outbox: Outbox = Depends(local_outbox),
) -> dict[str, str]:
    """A chat or webhook delivery for `to`, kept here instead of sent."""
    parts = urlsplit(to)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise field_error("to", "the original chat or webhook URL, http(s)")
    key = _required_key(idempotency_key)
    try:
        body: Any = json.loads(await http.body())
    except ValueError:
        raise field_error("body", "a chat or webhook delivery is JSON") from None
    body = body if isinstance(body, dict) else {}
    channel = key.rsplit(":", 1)[-1]
    if channel not in ("chat", "webhook"):
        channel = "webhook" if "idempotency_key" in body else "chat"
    text = _text(body.get("message") if channel == "webhook" else body.get("text"))
    shown = text or json.dumps(body, ensure_ascii=False)
    link = _text(body.get("ack_url")) or ack_link(shown)
    outbox.store.capture(Captured(key, channel, to, _text(body.get("subject")), shown, link))
    return {"received": key}


@router.post(f"{TWILIO_PATH}/{API_VERSION}/Accounts/{{account_sid}}/Messages.json")
async def twilio_message(
    account_sid: str, http: Request, idempotency_key: IdempotencyKey = None, outbox: Outbox = Depends(local_outbox)
) -> JSONResponse:
    form = await _twilio_form(account_sid, http)
    if isinstance(form, JSONResponse):
        return form
    body = form.get("Body", "")
    refusal = _refusal(form) or (
        _twilio_error(21602, "Message body is required.")
        if not body
        else _twilio_error(21617, f"The concatenated message body exceeds the {SMS_LIMIT} character limit.")
        if len(body) > SMS_LIMIT
        else None
    )
    return _created("SM", "sms", account_sid, form, body, refusal, _required_key(idempotency_key), outbox)


@router.post(f"{TWILIO_PATH}/{API_VERSION}/Accounts/{{account_sid}}/Calls.json")
async def twilio_call(
    account_sid: str, http: Request, idempotency_key: IdempotencyKey = None, outbox: Outbox = Depends(local_outbox)
) -> JSONResponse:
    form = await _twilio_form(account_sid, http)
    if isinstance(form, JSONResponse):
        return form
    twiml = form.get("Twiml", "")
    spoken, refusal = _spoken(twiml), _refusal(form)
    if refusal is None and spoken is None:
        refusal = _twilio_error(12100, "Document parse failure: Twiml is missing or is not XML.")
    return _created(
        "CA", "voice", account_sid, form, spoken or "", refusal, _required_key(idempotency_key), outbox, ack_link(twiml)
    )


def _created(
    prefix: str,
    channel: str,
    account_sid: str,
    form: dict[str, str],
    text: str,
    refusal: JSONResponse | None,
    key: str,
    outbox: Outbox,
    link: str | None = None,
) -> JSONResponse:
    to = form.get("To", "")
    reason = json.loads(bytes(refusal.body))["message"] if refusal is not None else None
    outbox.store.capture(Captured(key, channel, to, None, text, link or ack_link(text), reason))
    if refusal is not None:
        return refusal
    sid = prefix + secrets.token_hex(16)
    resource = "Messages" if prefix == "SM" else "Calls"
    created = {
        "sid": sid,
        "account_sid": account_sid,
        "to": to,
        "from": form.get("From"),
        "status": "queued",
        "date_created": format_datetime(datetime.now(UTC), usegmt=True),
        "api_version": API_VERSION,
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/{resource}/{sid}.json",
    }
    if prefix == "SM":
        created |= {"body": text, "direction": "outbound-api", "num_segments": str(-(-len(text) // 153) or 1)}
    return JSONResponse(created, status_code=201)


async def _twilio_form(account_sid: str, http: Request) -> dict[str, str] | JSONResponse:
    """The create request's form, once its Basic credentials match the outbox's account, as Twilio checks them."""
    user, _, password = _basic(http.headers.get("authorization", "")).partition(":")
    if user != account_sid or account_sid != OUTBOX_TWILIO_SID or password != OUTBOX_TWILIO_TOKEN:
        return _twilio_error(20003, "Authenticate", status=401)
    form = await http.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _refusal(form: dict[str, str]) -> JSONResponse | None:
    to, sender = form.get("To", ""), form.get("From", "")
    if not E164.match(to):
        return _twilio_error(21211, f"Invalid 'To' Phone Number: {to[:64]}")
    if not sender:
        return _twilio_error(21603, "A 'From' phone number is required.")
    return None


def ack_link(text: str) -> str | None:
    found = ACK_LINK.search(text)
    return found.group(0) if found else None


def _spoken(twiml: str) -> str | None:
    """What a call says: the text of its <Say> verbs."""
    try:
        document = ElementTree.fromstring(twiml)
    except ElementTree.ParseError:
        return None
    return " ".join(" ".join(say.itertext()).strip() for say in document.iter("Say")).strip()


def _twilio_error(code: int, message: str, status: int = 400) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def _basic(header: str) -> str:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _required_key(key: str | None) -> str:
    if not key or not key.strip():
        raise field_error("Idempotency-Key", "every supportflow delivery sends this header; the outbox files by it")
    return key.strip()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
