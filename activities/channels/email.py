"""Email over SMTP with stdlib smtplib, run in a thread so the worker's event loop keeps polling.

The Message-ID is derived from the idempotency key, so every retry sends the
same message (a receiving server or client can drop the duplicate), and a
reply's In-Reply-To points back at the case (DESIGN "Opening cases").
SMTP 4xx replies and connection errors are retried; 5xx replies are permanent.
"""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from activities.channels import tls
from activities.channels.failures import DeliveryFailed, DeliveryRejected, DeliveryUnavailable
from activities.channels.text import plain_text
from activities.settings import Settings
from workflows.contracts import Delivery

MESSAGE_ID_DOMAIN = "supportflow.invalid"
# RFC 5322's own line limit. At the default of 78, our long Message-ID and
# Idempotency-Key are folded, or even RFC 2047-encoded, and arrive altered.
_UNFOLDED = email.policy.SMTP.clone(max_line_length=998)


def message_id(case_id: str, idempotency_key: str) -> str:
    """`<{case_id}.{n}@supportflow.invalid>`, n = the first 16 hex digits of SHA-256(idempotency key)."""
    n = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    return f"<{case_id}.{n}@{MESSAGE_ID_DOMAIN}>"


def compose(delivery: Delivery, ack_url: str | None, settings: Settings) -> EmailMessage:
    message = EmailMessage(policy=_UNFOLDED)
    message["From"] = settings.smtp_from
    message["To"] = delivery.address
    message["Subject"] = " ".join(delivery.subject.split())  # a header must not contain a line break
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(delivery.case_id, delivery.idempotency_key)
    message["Idempotency-Key"] = delivery.idempotency_key
    # RFC 3834: tells vacation responders not to answer, so no auto-reply loop opens cases.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(plain_text(delivery, ack_url))
    return message


async def send(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    message = compose(delivery, ack_url, settings)
    try:
        await asyncio.to_thread(_submit, message, settings)
    except Exception as problem:  # smtplib raises OSError subclasses, sorted out below
        raise _classified(problem, settings) from problem
    return f"email accepted by {settings.smtp_host}:{settings.smtp_port} as {message['Message-ID']}"


def _submit(message: EmailMessage, settings: Settings) -> None:
    context = tls.for_smtp() if settings.smtp_tls != "none" else None
    if settings.smtp_tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout)
    try:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)
    finally:
        _quit_quietly(smtp)


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """Once the server has taken the message, a failed QUIT must not turn into a retry and a duplicate."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _classified(problem: Exception, settings: Settings) -> DeliveryFailed:
    server = f"SMTP server {settings.smtp_host}:{settings.smtp_port}"
    if isinstance(problem, smtplib.SMTPRecipientsRefused):
        replies = list(problem.recipients.values())
        said = "; ".join(f"{code} {_text(text)}" for code, text in replies)
        temporary = all(400 <= code < 500 for code, _ in replies)
        return (DeliveryUnavailable if temporary else DeliveryRejected)(f"{server} refused the recipient: {said}")
    if isinstance(problem, smtplib.SMTPResponseException):
        said = f"{server} answered {problem.smtp_code} {_text(problem.smtp_error)}"
        return DeliveryRejected(said) if 500 <= problem.smtp_code < 600 else DeliveryUnavailable(said)
    if isinstance(problem, smtplib.SMTPServerDisconnected):
        return DeliveryUnavailable(f"{server} closed the connection: {problem}")
    if isinstance(problem, smtplib.SMTPNotSupportedError):
        return DeliveryRejected(f"{server} does not support what SUPPORTFLOW_SMTP_TLS/USER ask for: {problem}")
    if isinstance(problem, smtplib.SMTPException):
        return DeliveryRejected(f"{server}: {problem}")
    if isinstance(problem, ssl.SSLCertVerificationError):
        return DeliveryRejected(f"{server} presented a certificate that failed verification: {problem.verify_message}")
    if isinstance(problem, OSError):
        return DeliveryUnavailable(f"{server} could not be reached: {type(problem).__name__}: {problem}")
    return DeliveryUnavailable(f"{server}: unexpected {type(problem).__name__}: {problem}")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
