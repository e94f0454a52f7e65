"""Webhook delivery: POST the contract's WebhookBody to the contact's URL (DESIGN "Webhook")."""

from __future__ import annotations

from activities.channels.http import post
from activities.settings import Settings
from workflows.contracts import Delivery, WebhookBody

_FROM_DELIVERY = set(WebhookBody.model_fields) - {"ack_url"}


def webhook_body(delivery: Delivery, ack_url: str | None) -> WebhookBody:
    return WebhookBody(ack_url=ack_url, **delivery.model_dump(include=_FROM_DELIVERY))


async def send(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    body = webhook_body(delivery, ack_url).model_dump(mode="json")
    response = await post(delivery.address, idempotency_key=delivery.idempotency_key, settings=settings, json=body)
    return f"webhook answered HTTP {response.status_code}"
