"""Outbox mode (`SUPPORTFLOW_DELIVERY=outbox`): every delivery runs its real channel code, against local stand-ins.

The outbox lives in the gateway process (starter/outbox/). In outbox mode
chat and webhook deliveries are POSTed to `<outbox>/outbox/hooks?to=<original
URL>`, SMS and calls go to the Twilio-shaped stand-in at `<outbox>/outbox/twilio`,
and email to the outbox's SMTP server (`SUPPORTFLOW_SMTP_HOST`/`PORT`, which
`supportflow up` points at it). Both must be on this machine, so nothing
leaves it. After each attempt the worker tells the outbox how it ended, so a
delivery that never reached a stand-in is listed too, with its reason.

This module is the whole worker-side switch: `deliver` calls `routed` before
a channel and `report` after it; in live mode both do nothing.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import replace
from typing import Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from activities.channels.failures import DeliveryFailed
from activities.settings import Settings, SettingsError
from workflows.contracts import Delivery

HOOKS_PATH = "/outbox/hooks"
TWILIO_PATH = "/outbox/twilio"
ATTEMPTS_PATH = "/outbox/attempts"
# The stand-in checks that calls carry these, as Twilio checks an account's credentials.
OUTBOX_TWILIO_SID = "AC" + "0" * 32
OUTBOX_TWILIO_TOKEN = "outbox"
OUTBOX_TWILIO_FROM = "+15555550000"
REPORT_TIMEOUT = 5.0

Outcome = Literal["delivered", "retrying", "failed"]
log = logging.getLogger("supportflow.outbox")


class AttemptReport(BaseModel):
    """How one delivery attempt ended, as the worker tells the outbox (`POST /outbox/attempts`)."""

    model_config = ConfigDict(extra="forbid")

    delivery: Delivery
    attempt: int = Field(ge=1)
    outcome: Outcome
    error: str | None = Field(default=None, max_length=4000)
    ack_url: str | None = Field(default=None, max_length=4000)


def routed(delivery: Delivery, settings: Settings) -> tuple[Delivery, Settings]:
    """The delivery and settings a channel should use: unchanged when live, aimed at the outbox otherwise."""
    if settings.delivery != "outbox":
        return delivery, settings
    _on_this_machine("SUPPORTFLOW_OUTBOX_URL", urlsplit(settings.outbox_url).hostname or "")
    if delivery.channel == "email":
        _on_this_machine("SUPPORTFLOW_SMTP_HOST", settings.smtp_host)
    if delivery.channel in ("chat", "webhook"):
        delivery = delivery.model_copy(update={"address": hooks_url(settings.outbox_url, delivery.address)})
    return delivery, replace(
        settings,
        twilio_base_url=f"{settings.outbox_url}{TWILIO_PATH}",
        twilio_account_sid=OUTBOX_TWILIO_SID,
        twilio_auth_token=OUTBOX_TWILIO_TOKEN,
        twilio_from=settings.twilio_from or OUTBOX_TWILIO_FROM,
        # The outbox's SMTP server takes plain SMTP without a login.
        smtp_tls="none",
        smtp_user=None,
        smtp_password=None,
    )


def hooks_url(outbox_url: str, original: str) -> str:
    return f"{outbox_url}{HOOKS_PATH}?to={quote(original, safe='')}"


async def report(
    delivery: Delivery, attempt: int, failure: DeliveryFailed | None, ack_url: str | None, settings: Settings
) -> None:
    """Tell the outbox how this attempt ended. Best effort: a lost report never fails or repeats a delivery."""
    if settings.delivery != "outbox":
        return
    outcome: Outcome = "delivered" if failure is None else "retrying" if failure.retryable else "failed"
    body = AttemptReport(
        delivery=delivery,
        attempt=attempt,
        outcome=outcome,
        error=failure.error[:4000] if failure else None,
        ack_url=ack_url,
    )
    try:
        async with httpx.AsyncClient(timeout=REPORT_TIMEOUT) as http:
            answer = await http.post(f"{settings.outbox_url}{ATTEMPTS_PATH}", json=body.model_dump(mode="json"))
        answer.raise_for_status()
    except httpx.HTTPError as problem:
        log.warning("outbox: could not record %s: %s", delivery.idempotency_key, problem)


def _on_this_machine(variable: str, host: str) -> None:
    if not _is_loopback(host):
        raise SettingsError(
            f"SUPPORTFLOW_DELIVERY=outbox keeps every message on this machine, but {variable} names {host or '(nothing)'}; "
            "point it at 127.0.0.1, or set SUPPORTFLOW_DELIVERY=live"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
