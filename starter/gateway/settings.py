"""The gateway's environment: API keys and their scopes, the portal's signing secret, the public URL.

| variable | default | meaning |
|---|---|---|
| `SUPPORTFLOW_API_KEYS` | unset (every keyed route answers 401) | `key=scope[+scope],…`; scopes `intake`, `operate`, `admin` |
| `SUPPORTFLOW_PORTAL_SECRET` | the acknowledgement secret | signs portal magic links and session cookies |
| `SUPPORTFLOW_ACK_SECRET` | a development secret | verifies `GET /v1/ack/{token}` links (see activities/ack_link.py) |
| `SUPPORTFLOW_PUBLIC_URL` | `http://127.0.0.1:8000` | the gateway as requesters reach it, for portal links |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, get_args

from activities.settings import Settings

Scope = Literal["intake", "operate", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)


class GatewaySettingsError(ValueError):
    """An environment variable the gateway cannot use; the message names it."""


@dataclass(frozen=True)
class ApiKey:
    key: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class GatewaySettings:
    api_keys: tuple[ApiKey, ...] = ()
    portal_secret: str = ""
    delivery: Settings = field(default_factory=Settings)
    link_lifetime: timedelta = timedelta(hours=24)
    session_lifetime: timedelta = timedelta(hours=24)

    @property
    def public_url(self) -> str:
        return self.delivery.public_url

    @property
    def signing_secret(self) -> str:
        return self.portal_secret or self.delivery.ack_secret

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        return cls(
            api_keys=parse_api_keys(env.get("SUPPORTFLOW_API_KEYS", "")),
            portal_secret=env.get("SUPPORTFLOW_PORTAL_SECRET", "").strip(),
            delivery=Settings.from_env(env),
        )


def parse_api_keys(text: str) -> tuple[ApiKey, ...]:
    """`key=scope[+scope],…`: each entry must name a key and at least one known scope."""
    keys: list[ApiKey] = []
    for i, entry in enumerate(part.strip() for part in text.split(",")):
        if not entry:
            continue
        key, equals, scopes_text = entry.rpartition("=")
        key = key.strip()
        scopes = frozenset(scope.strip() for scope in scopes_text.split("+") if scope.strip())
        if not equals or not key:
            raise GatewaySettingsError(f"SUPPORTFLOW_API_KEYS entry {i + 1} is not key=scope[+scope]")
        unknown = sorted(scopes - set(SCOPES))
        if unknown or not scopes:
            raise GatewaySettingsError(
                f"SUPPORTFLOW_API_KEYS entry {i + 1} has scope {', '.join(unknown) or '(none)'}; "
                f"scopes are {', '.join(SCOPES)}"
            )
        keys.append(ApiKey(key, scopes))
    return tuple(keys)
