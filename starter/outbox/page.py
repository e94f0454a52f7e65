"""The `/outbox` page: every captured message as a card, newest first, with its ack link ready to click."""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from starter.gateway.pages import page
from starter.outbox.models import OutboxMessage

OUTCOME_CLASS = {"delivered": "ok", "retrying": "muted", "failed": "error"}
# A requester's way into the portal (the acknowledgement email, a sign-in link): clickable too.
PORTAL_LINK = re.compile(r"https?://[^\s\"'<>]+/portal/login\?token=[A-Za-z0-9_\-.]+")


def outbox_page(messages: list[OutboxMessage], case_id: str | None, smtp_port: int) -> HTMLResponse:
    shown = f" for {escape(case_id)} (<a href='/outbox'>all cases</a>)" if case_id else ""
    intro = (
        "<p class=muted>Development outbox: supportflow delivers here instead of to people. Every email, SMS, call, "
        f"chat and webhook went through its real channel code to a local stand-in (SMTP on 127.0.0.1:{smtp_port}). "
        "Nothing left this machine. <a href=''>Refresh</a></p>"
    )
    cards = "".join(_card(message) for message in messages) or "<div class=card><p>Nothing has been sent yet.</p></div>"
    return page("Outbox — supportflow", f"<h1>Outbox{shown}</h1>{intro}{cards}")


def dev_banner(http: Request) -> str:
    """A line for the portal's pages while the outbox is running: where its messages went."""
    if getattr(http.app.state, "outbox", None) is None:
        return ""
    return (
        "<p class='card muted' role=note>Development mode: nothing is sent to real people. "
        "Every message, sign-in links included, is in the <a href='/outbox'>outbox</a>.</p>"
    )


def _card(message: OutboxMessage) -> str:
    outcome = f"<span class={OUTCOME_CLASS[message.outcome]}>{escape(message.outcome)}</span>"
    tries = f" after {message.attempts} attempts" if message.attempts > 1 else ""
    error = f"<p class=error>{escape(message.error)}</p>" if message.error else ""
    where = " · ".join(
        escape(part)
        for part in (
            message.ladder and f"{message.ladder} step {message.step}",
            message.contact,
        )
        if part
    )
    case = (
        f"<a href='/outbox?{escape(urlencode({'case_id': message.case_id}))}'>{escape(message.case_id)}</a>"
        if message.case_id
        else ""
    )
    ack = (
        f"<p><a class=ack href='{escape(message.ack_url)}'>Acknowledge as {escape(message.contact or 'this contact')}</a></p>"
        if message.ack_url
        else ""
    )
    portal = PORTAL_LINK.search(message.body)
    if portal:
        ack += f"<p><a class=ack href='{escape(portal.group(0))}'>Open the portal link</a></p>"
    subject = f"<p><strong>{escape(message.subject)}</strong></p>" if message.subject else ""
    return (
        f"<div class='card message' data-channel='{escape(message.channel)}' data-key='{escape(message.idempotency_key)}'>"
        f"<p class=muted>{escape(message.at.strftime('%Y-%m-%d %H:%M:%S UTC'))} · <strong>{escape(message.channel)}</strong>"
        f" to {escape(message.to)} · {where} · {outcome}{tries}</p><p class=muted>{case}</p>"
        f"{subject}<pre class=body>{escape(message.body)}</pre>{ack}{error}</div>"
    )
