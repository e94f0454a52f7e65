"""Slack's Block Kit for pages (DESIGN Decision 19): the message, its Acknowledge button, and how it reads
once someone pressed it. Built with slack_sdk's models, which check Slack's limits as they build.

The button's value is the acknowledgement link's signed token, so the gateway's
`/v1/slack/interactions` trusts the case and contact it names exactly as it
trusts `/v1/ack/{token}`; Slack's own request signature says who pressed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from activities.channels.text import plain_text
from activities.settings import Settings
from workflows.contracts import Delivery

ACKNOWLEDGE_ACTION = "supportflow_acknowledge"
ACTIONS_BLOCK = "supportflow_page_actions"
SECTION_LIMIT = 3000  # Slack's limit for a section's text


def speaks_block_kit(url: str, settings: Settings) -> bool:
    """A Slack incoming webhook (hooks.slack.com, or a host in SUPPORTFLOW_SLACK_HOSTS)."""
    return (urlsplit(url).hostname or "").lower() in settings.slack_hosts


def page_message(delivery: Delivery, ack_url: str | None) -> dict[str, Any]:
    """`text` stays as the notification's fallback (phones, screen readers); the blocks are what Slack shows."""
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=_cut(f"*{escape(delivery.subject)}*\n{escape(delivery.message)}")))
    ]
    if ack_url:
        button = ButtonElement(
            text=PlainTextObject(text="Acknowledge"),
            action_id=ACKNOWLEDGE_ACTION,
            value=ack_url.rsplit("/v1/ack/", 1)[-1],  # the token: the button carries it back
            style="primary",
        )
        blocks.append(ActionsBlock(block_id=ACTIONS_BLOCK, elements=[button]))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Case `{delivery.case_id}`")]))
    return {"text": plain_text(delivery, ack_url), "blocks": [block.to_dict() for block in blocks]}


def acknowledged_message(original: dict[str, Any], by: str, at: datetime) -> dict[str, Any]:
    """The page as it was, its button replaced by who acknowledged it and when (for `response_url`)."""
    kept = [block for block in original.get("blocks") or [] if block.get("type") != "actions"]
    said = f":white_check_mark: Acknowledged by *{escape(by)}* at {at:%Y-%m-%d %H:%M} UTC; paging stopped."
    kept.append(ContextBlock(elements=[MarkdownTextObject(text=said)]).to_dict())
    text = original.get("text") or "supportflow page"
    return {"replace_original": True, "text": f"{text}\n\nAcknowledged by {by}", "blocks": kept}


def private_note(text: str) -> dict[str, Any]:
    """A reply only the presser sees; the page itself stays as it was."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def escape(text: str) -> str:
    """Slack's three control characters in message text (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str) -> str:
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
