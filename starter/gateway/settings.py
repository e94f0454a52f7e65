"""The gateway's environment: API keys and their scopes, the portal's signing secret, the public URL.

| variable | default | meaning |
|---|---|---|
| `SUPPORTFLOW_API_KEYS` | unset (every keyed route answers 401) | `name:key=scope[+scope][@tenant[|tenant]],…`; scopes `intake`, `operate`, `admin` |
| `SUPPORTFLOW_PORTAL_SECRET` | required | signs portal magic links, portal sessions and codec cookies |
| `SUPPORTFLOW_ACK_SECRET` | required | verifies `GET /v1/ack/{token}` links (signed_links.py) |

Every variable may also be given as `NAME_FILE` (environment.py).
| `SUPPORTFLOW_PUBLIC_URL` | `http://127.0.0.1:8000` | the gateway as requesters reach it, for portal links |
| `SUPPORTFLOW_ENCRYPTION_KEY` | unset (the codec routes answer 503) | the payload keys the codec routes use (starter/encryption.py) |
| `SUPPORTFLOW_UI_ORIGIN` | `http://127.0.0.1:8233,http://localhost:8233` | the Temporal web UI's origins, the only ones CORS lets call the codec |
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, get_args

import environment
from activities.settings import Settings
from environment import SettingsError
from starter.encryption import EncryptionKeyError, Keyring, keyring_from_env

Scope = Literal["intake", "operate", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
DEFAULT_UI_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")


@dataclass(frozen=True)
class ApiKey:
    """One key from SUPPORTFLOW_API_KEYS: its name (recorded as who acted), scopes, and tenants (empty: any)."""

    key: str
    scopes: frozenset[str]
    name: str = ""
    tenants: frozenset[str] = frozenset()

    def allows(self, tenant: str | None) -> bool:
        return not self.tenants or tenant is None or tenant in self.tenants


@dataclass(frozen=True)
class GatewaySettings:
    api_keys: tuple[ApiKey, ...] = ()
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
        """The portal secret: links, sessions and cookies the gateway itself issues."""
        return self.delivery.secret("portal")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        return cls(
            api_keys=parse_api_keys(environment.value("SUPPORTFLOW_API_KEYS", env) or ""),
            delivery=Settings.from_env(env),
            encryption=_keyring(env),
            ui_origins=parse_origins(env.get("SUPPORTFLOW_UI_ORIGIN", "")) or DEFAULT_UI_ORIGINS,
        )


def _keyring(env: Mapping[str, str]) -> Keyring | None:
    try:
        return keyring_from_env(env)
    except EncryptionKeyError as problem:
        raise SettingsError(str(problem)) from None


def parse_origins(text: str) -> tuple[str, ...]:
    """`scheme://host[:port]`, comma-separated: the browser's Origin header, exactly (no path, no `*`)."""
    origins = []
    for i, entry in enumerate(part.strip().rstrip("/") for part in text.split(",")):
        if not entry:
            continue
        scheme, _, rest = entry.partition("://")
        if scheme not in ("http", "https") or not rest or "/" in rest or "*" in rest:
            raise SettingsError(
                f"SUPPORTFLOW_UI_ORIGIN entry {i + 1} ({entry!r}) is not an origin such as https://temporal-ui.example.com"
            )
        origins.append(entry)
    return tuple(origins)


def parse_api_keys(text: str) -> tuple[ApiKey, ...]:
    """`name:key=scope[+scope][@tenant[|tenant]],…`; the older `key=scope[+scope]` is still read, its name
    `key-` and the first 8 hex digits of the key's SHA-256. Each entry needs a key and a known scope."""
    keys: list[ApiKey] = []
    for i, entry in enumerate(part.strip() for part in text.split(",")):
        if not entry:
            continue
        named_key, equals, grant = entry.rpartition("=")
        scopes_text, _, tenants_text = grant.partition("@")
        name, colon, key = named_key.strip().partition(":")
        if not colon:
            name, key = "", name
        name, key = name.strip(), key.strip()
        scopes = frozenset(scope.strip() for scope in scopes_text.split("+") if scope.strip())
        tenants = frozenset(tenant.strip() for tenant in tenants_text.split("|") if tenant.strip())
        if not equals or not key:
            raise SettingsError(f"SUPPORTFLOW_API_KEYS entry {i + 1} is not name:key=scope[+scope][@tenant[|tenant]]")
        unknown = sorted(scopes - set(SCOPES))
        if unknown or not scopes:
            raise SettingsError(
                f"SUPPORTFLOW_API_KEYS entry {i + 1} has scope {', '.join(unknown) or '(none)'}; "
                f"scopes are {', '.join(SCOPES)}"
            )
        name = name or f"key-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        keys.append(ApiKey(key, scopes, name, tenants))
    return tuple(keys)
