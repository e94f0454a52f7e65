"""Webhook delivery: POST the contract's WebhookBody to the contact's URL (DESIGN "Webhook"), signed the
Standard Webhooks way when a secret applies (activities/channels/webhook_signing.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from activities.channels.http import post
from activities.channels.webhook_signing import signed_headers
from activities.settings import Settings
from workflows.contracts import Delivery, WebhookBody

_FROM_DELIVERY = set(WebhookBody.model_fields) - {"ack_url"}


def webhook_body(delivery: Delivery, ack_url: str | None) -> WebhookBody:
    return WebhookBody(ack_url=ack_url, **delivery.model_dump(include=_FROM_DELIVERY))


async def send(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    body = webhook_body(delivery, ack_url).model_dump(mode="json")
    # The signature covers these exact bytes, so they are serialised once, here.
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"} | signed_headers(delivery, content, datetime.now(UTC), settings)
    response = await post(
        delivery.address, idempotency_key=delivery.idempotency_key, settings=settings, content=content, headers=headers
    )
    signed = " (signed)" if "webhook-signature" in headers else ""
    return f"webhook answered HTTP {response.status_code}{signed}"
