"""Delivery settings from the environment, read at call time.

Read per call rather than at import so that a test (or an operator fixing a
typo) can change the environment and the next attempt sees it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

import environment
from environment import SettingsError

SmtpTls = Literal["none", "starttls", "ssl"]
# `live` sends to the real addresses; `outbox` sends every delivery, through the same channel code, to the
# outbox's local stand-ins (activities/outbox.py). `supportflow up` chooses `outbox` unless told otherwise.
DeliveryMode = Literal["live", "outbox"]
# Incoming-webhook hosts that speak Slack's Block Kit (GovSlack has its own); other chat URLs get plain text.
SLACK_HOSTS = ("hooks.slack.com",)


@dataclass(frozen=True)
class Settings:
    public_url: str = "http://127.0.0.1:8000"
    ack_secret: str | None = None
    portal_secret: str | None = None
    delivery_timeout: float = 10.0
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_tls: SmtpTls = "none"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "supportflow@localhost"
    delivery: DeliveryMode = "live"
    outbox_url: str = "http://127.0.0.1:8000"
    webhook_secret: str | None = None
    slack_hosts: tuple[str, ...] = SLACK_HOSTS
    slack_signing_secret: str | None = None

    def secret(self, name: str) -> str:
        """`ack` or `portal`: the signing secret, or a SettingsError naming the variable that must be set."""
        found = self.ack_secret if name == "ack" else self.portal_secret
        if not found:
            raise SettingsError(f"SUPPORTFLOW_{name.upper()}_SECRET is not set: links cannot be signed")
        return found

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str, default: str | None = None) -> str | None:
            return environment.value(name, env) or default

        tls = (text("SUPPORTFLOW_SMTP_TLS", "none") or "none").lower()
        if tls not in ("none", "starttls", "ssl"):
            raise SettingsError(f"SUPPORTFLOW_SMTP_TLS={tls!r} must be one of none, starttls, ssl")
        mode = (text("SUPPORTFLOW_DELIVERY", "live") or "live").strip().lower()
        if mode not in ("live", "outbox"):
            raise SettingsError(f"SUPPORTFLOW_DELIVERY={mode!r} must be live or outbox")
        public_url = (text("SUPPORTFLOW_PUBLIC_URL", cls.public_url) or cls.public_url).rstrip("/")
        return cls(
            public_url=public_url,
            ack_secret=text("SUPPORTFLOW_ACK_SECRET"),
            portal_secret=text("SUPPORTFLOW_PORTAL_SECRET"),
            delivery_timeout=_number(env, "SUPPORTFLOW_DELIVERY_TIMEOUT", cls.delivery_timeout),
            twilio_base_url=(text("SUPPORTFLOW_TWILIO_BASE_URL", cls.twilio_base_url) or "").rstrip("/"),
            twilio_account_sid=text("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=text("TWILIO_AUTH_TOKEN"),
            twilio_from=text("SUPPORTFLOW_TWILIO_FROM"),
            smtp_host=text("SUPPORTFLOW_SMTP_HOST", cls.smtp_host) or cls.smtp_host,
            # Implicit TLS has its own well-known port; plain and STARTTLS share 25.
            smtp_port=int(_number(env, "SUPPORTFLOW_SMTP_PORT", 465 if tls == "ssl" else 25, whole=True)),
            smtp_tls=tls,  # type: ignore[arg-type]
            smtp_user=text("SUPPORTFLOW_SMTP_USER"),
            smtp_password=text("SUPPORTFLOW_SMTP_PASSWORD"),
            smtp_from=text("SUPPORTFLOW_SMTP_FROM", cls.smtp_from) or cls.smtp_from,
            delivery=mode,  # type: ignore[arg-type]
            # The gateway that hosts the outbox, as the worker reaches it; `up` sets it to its own gateway.
            outbox_url=(text("SUPPORTFLOW_OUTBOX_URL", public_url) or public_url).rstrip("/"),
            webhook_secret=webhook_secret(env, "SUPPORTFLOW_WEBHOOK_SECRET"),
            slack_hosts=_hosts(text("SUPPORTFLOW_SLACK_HOSTS")) or SLACK_HOSTS,
            slack_signing_secret=text("SLACK_SIGNING_SECRET"),
        )


def webhook_secret(env: Mapping[str, str], name: str) -> str | None:
    """A Standard Webhooks secret (`whsec_` + base64) from variable `name`, or None when it is unset."""
    value = environment.value(name, env)
    if not value:
        return None
    try:
        Webhook(value)
    except (ValueError, EmptyWebhookSecretError):
        raise SettingsError(f"{name} is not a Standard Webhooks secret (whsec_ followed by base64)") from None
    return value


def _hosts(text: str | None) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in (text or "").split(",") if host.strip())


def _number(env: Mapping[str, str], name: str, default: float, whole: bool = False) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {'whole ' if whole else ''}number") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be greater than zero")
    return value
