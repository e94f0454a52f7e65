"""`POST /v1/twilio/sms`: an on-call engineer answers a page by text (DESIGN "SMS replies", Decision 11).

`ACK` or `1` (trimmed, any case) acknowledges the case that number was
paged about most recently, within 24 hours; any other text becomes a comment
by that contact. A number nobody paged gets a polite reply and nothing else.
Twilio's signature carries no timestamp, so a replayed request cannot be
told from Twilio's own retry: the MessageSid makes a repeat a no-op.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from twilio.twiml.messaging_response import MessagingResponse

from archive.pages import latest_page_to
from archive.store import ArchiveError, archive_at, archive_url
from starter import client as cases
from starter.gateway import twilio_routes
from starter.gateway.openapi import form_body
from starter.gateway.responses import ErrorBody
from starter.gateway.twilio_routes import signed_form
from workflows.contracts import Acknowledge, Actor, Comment

log = logging.getLogger("supportflow.gateway.sms")
ACKNOWLEDGING = frozenset({"ack", "1"})
router = APIRouter(tags=["twilio"], responses={403: {"model": ErrorBody}, 503: {"model": ErrorBody}})


SMS_FORM = form_body(
    {
        "From": "the replying phone, E.164",
        "Body": "ACK or 1 acknowledges; other text is a comment",
        "MessageSid": "Twilio's id: a repeat is a no-op",
    },
    required=["From", "Body"],
)


@router.post(
    "/v1/twilio/sms",
    summary="Twilio SMS webhook: a reply to a page",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "TwiML telling the sender what happened"}},
    openapi_extra=SMS_FORM,
)
async def sms_reply(http: Request) -> Response:
    form = await signed_form(http)
    sender, text, message_id = form.get("From", ""), form.get("Body", "").strip(), form.get("MessageSid", "")
    try:
        page = await asyncio.to_thread(latest_page_to, archive_at(archive_url()), sender, twilio_routes.receipt_time())
    except ArchiveError as trouble:
        log.error("sms: the page log cannot be read: %s", trouble)
        return reply("Sorry, your reply could not be matched to a page just now. Please use the link in the page.")
    if page is None:
        return reply("This number has no recent page from support; nothing was changed.")
    client = await http.app.state.temporal.client()
    actor = Actor(kind="sms", name=page.contact)
    try:
        if text.lower() in ACKNOWLEDGING:
            update_id = f"sms-{message_id}" if message_id else None
            acknowledged = Acknowledge(by=page.contact, actor=actor)
            await cases.run_update(client, page.case_id, "acknowledge", acknowledged, update_id=update_id)
            return reply(f"Acknowledged {page.case_id}: paging has stopped.")
        comment = Comment(
            author=page.contact, text=text or "(an empty text)", source_id=message_id or None, actor=actor
        )
        await cases.send_comment(client, page.case_id, comment)
        return reply(f"Added to {page.case_id} as a comment. Reply ACK to acknowledge.")
    except (cases.UpdateRejected, cases.CaseClosed):
        return reply(f"Nothing to acknowledge on {page.case_id}: someone already did, or its paging has ended.")
    except cases.CaseError as trouble:
        log.warning("sms: reply from %s for %s not applied: %s", page.contact, page.case_id, trouble.message)
        return reply("Sorry, that did not go through. Please try again, or use the link in the page.")


def reply(text: str) -> Response:
    answer = MessagingResponse()
    answer.message(text)
    return Response(str(answer), media_type="application/xml")
