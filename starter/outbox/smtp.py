"""The outbox's SMTP server: a real aiosmtpd on 127.0.0.1, in the gateway's event loop.

The worker's email channel speaks ordinary SMTP to it (`SUPPORTFLOW_SMTP_HOST`/`PORT`, set by `supportflow up`),
so an email page is composed, submitted and parsed exactly as it would be live; every accepted message is
filed by its `Idempotency-Key:` header (our Message-ID, for mail without one).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

from starter.outbox.standins import ack_link
from starter.outbox.state import SMTP_HOST
from starter.outbox.store import Captured, OutboxStore

HOSTNAME = "outbox.supportflow.invalid"


class OutboxMailbox:
    """The aiosmtpd handler: every message is accepted and kept."""

    def __init__(self, store: OutboxStore):
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        raw = raw if isinstance(raw, bytes) else raw.encode()
        message: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
        key = str(message.get("Idempotency-Key") or message.get("Message-ID") or "").strip()
        if not key:
            return "550 5.6.0 the outbox files mail by its Idempotency-Key or Message-ID header; this has neither"
        self.store.capture(
            Captured(
                idempotency_key=key,
                channel="email",
                to=", ".join(envelope.rcpt_tos),
                subject=str(message.get("Subject") or "") or None,
                body=(text := _text(message)),
                ack_url=ack_link(text),
            )
        )
        return "250 2.0.0 kept in the supportflow outbox"


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


async def start_smtp(store: OutboxStore, port: int = 0) -> asyncio.AbstractServer:
    """Listen on 127.0.0.1:`port` (0: a free one; read it from the server's socket)."""
    loop = asyncio.get_running_loop()
    mailbox = OutboxMailbox(store)
    return await loop.create_server(lambda: SMTP(mailbox, hostname=HOSTNAME, loop=loop), SMTP_HOST, port)


def listening_port(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]
