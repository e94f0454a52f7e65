"""The outbox's one JSON shape (DESIGN "Development outbox"), as `GET /v1/outbox` answers it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from activities.outbox import Outcome
from workflows.policy import DeliveryChannel


class OutboxMessage(BaseModel):
    """One delivery as the outbox captured it, once per idempotency key however often it was retried.

    `to` is the address the message was meant for (the contact's real URL, number or mailbox); `body` is what
    the stand-in received, as a person would read it; `attempts`, `outcome` and `error` are the worker's latest
    word on it (`retrying` until an attempt succeeds or fails for good).
    """

    at: datetime
    channel: DeliveryChannel
    to: str
    contact: str | None
    case_id: str | None
    ladder: str | None
    step: int | None
    subject: str | None
    body: str
    ack_url: str | None
    idempotency_key: str
    outcome: Outcome
    attempts: int
    error: str | None
