"""The running outbox of one gateway process, and who may reach it.

`SUPPORTFLOW_DELIVERY=outbox` turns it on (`supportflow up` sets it); live, every outbox route is a 404.
Only loopback clients reach its keyless routes (DESIGN Decision 7): the stand-ins take whatever the local
worker sends, and the page shows ack links, which are credentials.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from activities.settings import Settings
from starter.gateway.errors import Forbidden, NotFound
from starter.outbox.store import OutboxStore

SMTP_HOST = "127.0.0.1"


@dataclass(frozen=True)
class OutboxSettings:
    enabled: bool = False
    file: Path | None = None
    smtp_port: int = 0  # 0: a free port, chosen when the SMTP server starts

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OutboxSettings:
        env = os.environ if env is None else env
        port = env.get("SUPPORTFLOW_OUTBOX_SMTP_PORT", "").strip() or "0"
        if not port.isdigit() or int(port) > 65535:
            raise ValueError(f"SUPPORTFLOW_OUTBOX_SMTP_PORT={port!r} is not a port number")
        file = env.get("SUPPORTFLOW_OUTBOX_FILE", "").strip()
        return cls(
            enabled=Settings.from_env(env).delivery == "outbox", file=Path(file) if file else None, smtp_port=int(port)
        )


@dataclass
class Outbox:
    store: OutboxStore
    smtp_port: int


def running_outbox(http: Request) -> Outbox:
    """The outbox, or a 404 when this gateway delivers live (tests that skip the lifespan count as live)."""
    outbox = getattr(http.app.state, "outbox", None)
    if outbox is None:
        raise NotFound("there is no outbox: this gateway delivers live (SUPPORTFLOW_DELIVERY=outbox turns it on)")
    return outbox


def local_outbox(http: Request) -> Outbox:
    """The outbox, for a client on this machine only."""
    outbox = running_outbox(http)
    host = http.client.host if http.client else ""
    if not _is_loopback(host):
        raise Forbidden("the outbox answers only clients on this machine")
    return outbox


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
