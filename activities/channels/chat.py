"""Chat delivery through a Slack-compatible incoming webhook: `{"text": ...}`.

Slack, Mattermost, Rocket.Chat and Teams workflows all accept this shape.
The link is written out plainly because every one of them auto-links URLs.
"""

from __future__ import annotations

from activities.channels.http import post
from activities.channels.text import plain_text
from activities.settings import Settings
from workflows.contracts import Delivery


async def send(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    body = {"text": plain_text(delivery, ack_url)}
    response = await post(delivery.address, idempotency_key=delivery.idempotency_key, settings=settings, json=body)
    return f"chat webhook answered HTTP {response.status_code}"
