"""The gateway's environment: API keys and their scopes, the portal's signing secret, the public URL.

| variable | default | meaning |
|---|---|---|
| `SUPPORTFLOW_API_KEYS` | unset (every keyed route answers 401) | `key=scope[+scope],…`; scopes `intake`, `operate`, `admin` |
| `SUPPORTFLOW_PORTAL_SECRET` | the acknowledgement secret | signs portal magic links and session cookies |
| `SUPPORTFLOW_ACK_SECRET` | a development secret | verifies `GET /v1/ack/{token}` links (see activities/ack_link.py) |
| `SUPPORTFLOW_PUBLIC_URL` | `http://127.0.0.1:8000` | the gateway as requesters reach it, for portal links |
| `SUPPORTFLOW_ENCRYPTION_KEY` | unset (the codec routes answer 503) | the payload keys the codec routes use (starter/encryption.py) |
| `SUPPORTFLOW_UI_ORIGIN` | `http://127.0.0.1:8233,http://localhost:8233` | the Temporal web UI's origins, the only ones CORS lets call the codec |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, get_args

from activities.settings import Settings
from starter.encryption import EncryptionKeyError, Keyring, keyring_from_env

Scope = Literal["intake", "operate", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
DEFAULT_UI_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")


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
    encryption: Keyring | None = None
    ui_origins: tuple[str, ...] = DEFAULT_UI_ORIGINS

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
            encryption=_keyring(env),
            ui_origins=parse_origins(env.get("SUPPORTFLOW_UI_ORIGIN", "")) or DEFAULT_UI_ORIGINS,
        )


def _keyring(env: Mapping[str, str]) -> Keyring | None:
    try:
        return keyring_from_env(env)
    except EncryptionKeyError as problem:
        raise GatewaySettingsError(str(problem)) from None


def parse_origins(text: str) -> tuple[str, ...]:
    """`scheme://host[:port]`, comma-separated: the browser's Origin header, exactly (no path, no `*`)."""
    origins = []
    for i, entry in enumerate(part.strip().rstrip("/") for part in text.split(",")):
        if not entry:
            continue
        scheme, _, rest = entry.partition("://")
        if scheme not in ("http", "https") or not rest or "/" in rest or "*" in rest:
            raise GatewaySettingsError(
                f"SUPPORTFLOW_UI_ORIGIN entry {i + 1} ({entry!r}) is not an origin such as https://temporal-ui.example.com"
            )
        origins.append(entry)
    return tuple(origins)


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
