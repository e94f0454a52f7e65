"""`POST /v1/intake/email`: a raw message opens a case, or, when it answers one of ours, comments on it
(the intake itself is `starter/email_intake.py`, shared with the support mailbox)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import JSONResponse

from starter.email_intake import take_email
from starter.gateway.errors import GatewayError
from starter.gateway.opening import status_url
from starter.gateway.responses import CaseOpened, CommentAccepted

MAIL_TYPES = ("message/rfc822",)


class UnsupportedMedia(GatewayError):
    status = 415


async def email_intake(http: Request, tenant: str, receipt_time: datetime) -> JSONResponse:
    media = http.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MAIL_TYPES:
        raise UnsupportedMedia(f"send the raw message as Content-Type: message/rfc822 (got {media or 'none'})")
    outcome = await take_email(await http.app.state.temporal.client(), tenant, await http.body(), receipt_time)
    if outcome.comment:
        return JSONResponse(CommentAccepted(case_id=outcome.case_id).model_dump(), status_code=202)
    url = status_url(http, outcome.case_id)
    body = CaseOpened(case_id=outcome.case_id, status_url=url, duplicate=outcome.duplicate)
    return JSONResponse(body.model_dump(), status_code=200 if outcome.duplicate else 201)
