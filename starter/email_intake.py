"""One email, as the gateway's `POST /v1/intake/email` and the support mailbox both take it.

A message opens a case, or, when it answers one of ours, comments on that
case. A repeat of the same message (a retried POST, a mailbox that crashed
before moving it) is recognised by its Message-ID: the same case, the same
comment, nothing twice.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client, WorkflowExecutionStatus

import tenant_policies
from starter import client as cases
from starter.admission import admit
from starter.intake import EmailIntake, IntakeError, case_id_from_message_id, parse_email, redact
from starter.intake.phi import redact_identifier
from starter.intake.text import stored_text
from workflows.contracts import CaseRequest, Comment
from workflows.policy import Policy

# A long References chain names every message in the thread; In-Reply-To and the oldest few find the case.
THREAD_IDS_CHECKED = 20


@dataclass(frozen=True)
class EmailOutcome:
    case_id: str
    comment: bool  # threaded into a running case as a comment
    duplicate: bool  # this message had already opened the case


async def take_email(client: Client, tenant: str, raw: bytes, receipt_time: datetime) -> EmailOutcome:
    """Raises `IntakeError` for a message that cannot be used (no From, not a message), `UnknownTenant`,
    `Refused`, or the client layer's errors; nothing reaches Temporal for a message that fails."""
    policy = tenant_policies.loaded_policy(tenant, receipt_time.year)
    if not raw.strip():
        raise IntakeError("body", "the message is empty")
    mail = parse_email(raw, tenant, receipt_time)
    thread = await threaded_case(client, tenant, mail.thread_ids)
    request = mail.request
    if thread is not None:
        thread_id, running = thread
        if running:
            try:
                await cases.send_comment(client, thread_id, reply_comment(mail, policy.policy))
                return EmailOutcome(thread_id, comment=True, duplicate=False)
            except cases.CaseClosed:
                pass  # it closed a moment ago: the reply opens a new case, as for any closed case
        request = request.model_copy(update={"existing_case": thread_id})
    if mail.date_header or mail.auto_submitted:
        notes = _mail_notes(mail, quote_unreadable=not policy.policy.intake.redact_phi)
        request = request.model_copy(update={"notes": [*request.notes, *notes]})
    opened = await cases.start_case(client, admit(request, policy.policy, receipt_time), policy)
    return EmailOutcome(opened.case_id, comment=False, duplicate=opened.duplicate)


async def threaded_case(client: Client, tenant: str, thread_ids: list[str]) -> tuple[str, bool] | None:
    """(case id, still running) for the first thread id that names one of this tenant's cases."""
    for message_id in thread_ids[:THREAD_IDS_CHECKED]:
        for candidate in (case_id_from_message_id(message_id), _opened_by(tenant, message_id)):
            if candidate is None or cases.tenant_of(candidate) != tenant:
                continue
            try:
                described = await cases.describe(client, candidate)
            except cases.CaseNotFound:
                continue
            return candidate, described.status == WorkflowExecutionStatus.RUNNING
    return None


def reply_comment(mail: EmailIntake, policy: Policy) -> Comment:
    """The reply as a comment by its sender; an auto-reply is not the requester, so it never resumes a paused case."""
    request = mail.request
    text = stored_text(request.description or request.subject or "(an empty reply)")
    author = stored_text(request.requester.email or "requester")
    if policy.intake.redact_phi:
        text, _ = redact(text)
        author, _ = redact_identifier(author)
    if mail.auto_submitted:
        author = f"auto-reply from {author}"
    return Comment(author=author, text=text or "(an empty reply)", source_id=mail.message_id)


def _opened_by(tenant: str, message_id: str) -> str | None:
    try:
        return cases.case_id(CaseRequest(tenant=tenant, channel="email", source_id=message_id))
    except ValueError:
        return None


def _mail_notes(mail: EmailIntake, quote_unreadable: bool) -> list[str]:
    """The Date header as the instant it names (nothing else of what the sender wrote there survives); one that
    names no instant is quoted only for a tenant that takes PHI, since any text can stand in a header."""
    notes = []
    if mail.date_header:
        try:
            notes.append(f"Date header: {email.utils.parsedate_to_datetime(mail.date_header).isoformat()}")
        except (TypeError, ValueError, IndexError, OverflowError):
            quoted = f": {mail.date_header[:200]}" if quote_unreadable else ""
            notes.append(f"Date header is not a date{quoted}")
    if mail.auto_submitted:
        notes.append("the message is marked auto-submitted")
    return notes
