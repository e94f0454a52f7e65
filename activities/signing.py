"""Signed, expiring tokens for the portal: magic links (the gateway issues them, and so does the
requester's acknowledgement email) and session cookies.

A token is `<payload>.<signature>`, both base64url without padding; the
payload is JSON with `exp` in Unix seconds, and the signature is
HMAC-SHA256 over a purpose prefix and the payload, so a session cookie can
never pass as a link, nor either as an acknowledgement link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any


class TokenError(ValueError):
    """A token that cannot be honoured; the message is fit for the person holding it."""


class TokenExpired(TokenError):
    pass


def sign(purpose: str, claims: dict[str, Any], expires_at: datetime, secret: str) -> str:
    body = dict(claims, exp=int(expires_at.timestamp()))
    payload = _encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_signature(purpose, payload, secret)}"


def verify(purpose: str, token: str, now: datetime, secret: str) -> dict[str, Any]:
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise TokenError("this link is incomplete; open the whole link")
    if not hmac.compare_digest(signature.encode(), _signature(purpose, payload, secret).encode()):
        raise TokenError("this link was altered or was not issued here")
    try:
        claims = json.loads(_decode(payload))
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError, OSError):
        raise TokenError("this link is damaged; open the whole link") from None
    if now >= expires_at:
        raise TokenExpired(f"this link expired at {expires_at:%Y-%m-%d %H:%M} UTC; ask for a new one")
    return claims


def mac(purpose: str, text: str, secret: str) -> str:
    return _signature(purpose, text, secret)


def _signature(purpose: str, payload: str, secret: str) -> str:
    digest = hmac.new(
        secret.encode(), f"supportflow-{purpose}-v1.".encode() + payload.encode(), hashlib.sha256
    ).digest()
    return _encode(digest)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
