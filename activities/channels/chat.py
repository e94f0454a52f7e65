"""Chat delivery through an incoming webhook.

Slack's own webhooks (DESIGN Decision 19) get Block Kit with an Acknowledge
button (activities/channels/slack.py). Any other URL gets `{"text": ...}`,
which Mattermost, Rocket.Chat and Teams workflows all accept; the link is
written out plainly because every one of them auto-links URLs.
"""

from __future__ import annotations

from activities.channels import slack
from activities.channels.http import post
from activities.channels.text import plain_text
from activities.settings import Settings
from workflows.contracts import Delivery


async def send(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    if slack.speaks_block_kit(delivery.address, settings):
        body = slack.page_message(delivery, ack_url)
    else:
        body = {"text": plain_text(delivery, ack_url)}
    response = await post(delivery.address, idempotency_key=delivery.idempotency_key, settings=settings, json=body)
    return f"chat webhook answered HTTP {response.status_code}"
