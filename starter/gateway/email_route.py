"""`POST /v1/intake/email`: a raw message opens a case, or, when it answers one of ours, comments on it."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import JSONResponse
from temporalio.client import Client, WorkflowExecutionStatus

from starter.cases import case_id
from starter.gateway.errors import Conflict, GatewayError, NotFound
from starter.gateway.opening import admit, open_case
from starter.gateway.policies import tenant_policy
from starter.gateway.responses import CommentAccepted
from starter.gateway.temporal import describe, send_comment, tenant_of
from starter.intake import EmailIntake, case_id_from_message_id, parse_email, redact
from starter.intake.errors import IntakeError
from workflows.contracts import CaseRequest, Comment
from workflows.policy import Policy

# A long References chain names every message in the thread; In-Reply-To and the oldest few find the case.
THREAD_IDS_CHECKED = 20
MAIL_TYPES = ("message/rfc822",)


class UnsupportedMedia(GatewayError):
    status = 415


async def email_intake(http: Request, tenant: str, receipt_time: datetime) -> JSONResponse:
    media = http.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MAIL_TYPES:
        raise UnsupportedMedia(f"send the raw message as Content-Type: message/rfc822 (got {media or 'none'})")
    policy = tenant_policy(tenant)
    raw = await http.body()
    if not raw.strip():
        raise IntakeError("body", "the message is empty")
    mail = parse_email(raw, tenant, receipt_time)
    client = await http.app.state.temporal.client()
    thread = await threaded_case(client, tenant, mail.thread_ids)
    request = mail.request
    if thread is not None:
        thread_id, running = thread
        if running:
            try:
                await send_comment(client, thread_id, reply_comment(mail, policy))
                return JSONResponse(CommentAccepted(case_id=thread_id).model_dump(), status_code=202)
            except Conflict:
                pass  # it closed a moment ago: the reply opens a new case, as for any closed case
        request = request.model_copy(update={"existing_case": thread_id})
    if mail.date_header or mail.auto_submitted:
        request = request.model_copy(update={"notes": [*request.notes, *_mail_notes(mail)]})
    return await open_case(http, admit(request, policy, receipt_time))


async def threaded_case(client: Client, tenant: str, thread_ids: list[str]) -> tuple[str, bool] | None:
    """(case id, still running) for the first thread id that names one of this tenant's cases."""
    for message_id in thread_ids[:THREAD_IDS_CHECKED]:
        candidates = [case_id_from_message_id(message_id), _opened_by(tenant, message_id)]
        for candidate in candidates:
            if candidate is None or tenant_of(candidate) != tenant:
                continue
            try:
                described = await describe(client, candidate)
            except NotFound:
                continue
            return candidate, described.status == WorkflowExecutionStatus.RUNNING
    return None


def reply_comment(mail: EmailIntake, policy: Policy) -> Comment:
    """The reply as a comment by its sender; an auto-reply is not the requester, so it never resumes a paused case."""
    request = mail.request
    text = request.description or request.subject or "(an empty reply)"
    if policy.intake.redact_phi:
        text, _ = redact(text)
    author = request.requester.email or "requester"
    if mail.auto_submitted:
        author = f"auto-reply from {author}"
    return Comment(author=author, text=text, source_id=mail.message_id)


def _opened_by(tenant: str, message_id: str) -> str | None:
    try:
        return case_id(CaseRequest(tenant=tenant, channel="email", source_id=message_id))
    except ValueError:
        return None


def _mail_notes(mail: EmailIntake) -> list[str]:
    notes = []
    if mail.date_header:
        notes.append(f"Date header: {mail.date_header[:200]}")
    if mail.auto_submitted:
        notes.append("the message is marked auto-submitted")
    return notes
