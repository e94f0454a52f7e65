"""Who is looking at the portal: a magic link (24 h) becomes a signed session cookie for one tenant and one email."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import Response

import signed_links as signing
from signed_links import portal_url
from starter.gateway.settings import GatewaySettings

COOKIE = "supportflow_portal"


@dataclass(frozen=True)
class Session:
    tenant: str
    email: str
    cookie: str

    def csrf_token(self, settings: GatewaySettings) -> str:
        return signing.mac("portal-csrf", self.cookie, settings.signing_secret)

    def csrf_ok(self, presented: str, settings: GatewaySettings) -> bool:
        return hmac.compare_digest(presented.encode(), self.csrf_token(settings).encode())


def magic_link(settings: GatewaySettings, tenant: str, email: str) -> tuple[str, datetime]:
    expires_at = datetime.now(UTC) + settings.link_lifetime
    url = portal_url(settings.public_url, tenant, email, expires_at, settings.signing_secret)
    return url, expires_at.replace(microsecond=0)


def start_session(settings: GatewaySettings, token: str, response: Response) -> Session:
    """Check a magic link and set the session cookie on `response`; raises signing.TokenError."""
    claims = signing.verify("portal-link", token, datetime.now(UTC), settings.signing_secret)
    tenant, email = str(claims.get("t", "")), str(claims.get("e", ""))
    if not tenant or not email:
        raise signing.TokenError("this link is damaged; open the whole link")
    expires_at = datetime.now(UTC) + settings.session_lifetime
    # A fresh nonce per login: each session has its own CSRF token.
    cookie = signing.sign(
        "portal-session", {"t": tenant, "e": email, "n": secrets.token_urlsafe(8)}, expires_at, settings.signing_secret
    )
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(settings.session_lifetime.total_seconds()),
        path="/portal",
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )
    return Session(tenant, email, cookie)


def current_session(http: Request) -> Session | None:
    cookie = http.cookies.get(COOKIE)
    if not cookie:
        return None
    settings: GatewaySettings = http.app.state.settings
    try:
        claims = signing.verify("portal-session", cookie, datetime.now(UTC), settings.signing_secret)
    except signing.TokenError:
        return None
    return Session(str(claims.get("t", "")), str(claims.get("e", "")), cookie)
