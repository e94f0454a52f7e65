"""Signed, expiring tokens: acknowledgement links, portal sign-in links, and the portal and codec cookies.

A token is `<payload>.<signature>`, both base64url without padding. The
payload is JSON with `exp` in Unix seconds; the signature is HMAC-SHA256
over a purpose prefix and the payload, so a token made for one purpose
(a portal cookie) never passes for another (an acknowledgement link).
Deliveries make links and the gateway checks them; both take the secret as
an argument (the `supportflow worker` and `gateway` entry points require it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ACK_LINK_LIFETIME = timedelta(days=7)
# Longer than the gateway's on-demand links (24 h): the acknowledgement email is kept and reopened.
PORTAL_LINK_LIFETIME = timedelta(days=7)
# No honest token expires after 2100: a larger `exp` is damage or forgery, never a 500.
LATEST_EXPIRY = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())


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
        exp = claims["exp"]
        if not isinstance(exp, int) or isinstance(exp, bool) or not 0 <= exp <= LATEST_EXPIRY:
            raise ValueError(exp)
        expires_at = datetime.fromtimestamp(exp, tz=UTC)
    except (ValueError, KeyError, TypeError, binascii.Error, OverflowError, OSError, UnicodeDecodeError):
        raise TokenError("this link is damaged; open the whole link") from None
    if now >= expires_at:
        raise TokenExpired(f"this link expired at {expires_at:%Y-%m-%d %H:%M} UTC; ask for a new one")
    return claims


def mac(purpose: str, text: str, secret: str) -> str:
    return _signature(purpose, text, secret)


# --- acknowledgement links: `GET /v1/ack/{token}` -------------------------------------------------


class AckLinkError(TokenError):
    """An acknowledgement link that cannot be honoured; the message is fit to show the person who clicked it."""


class AckLinkInvalid(AckLinkError):
    """Damaged, truncated, or not signed by us."""


class AckLinkExpired(AckLinkError):
    """Genuine, but past its expiry."""


@dataclass(frozen=True)
class AckClaim:
    """What a valid link proves: `contact` may acknowledge `case_id`. The engineer paged at 2 am has a
    phone, not an API key, so the link itself is the credential."""

    case_id: str
    contact: str
    expires_at: datetime


def ack_token(case_id: str, contact: str, expires_at: datetime, secret: str) -> str:
    return sign("ack", {"case_id": case_id, "contact": contact}, expires_at, secret)


def ack_url(public_url: str, case_id: str, contact: str, expires_at: datetime, secret: str) -> str | None:
    """The link for `contact` to acknowledge `case_id`, or None when there is nobody to credit it to."""
    if not case_id or not contact:
        return None
    return f"{public_url}/v1/ack/{ack_token(case_id, contact, expires_at, secret)}"


def verify_ack_token(token: str, now: datetime, secret: str) -> AckClaim:
    try:
        claims = verify("ack", token, now, secret)
        return AckClaim(str(claims["case_id"]), str(claims["contact"]), datetime.fromtimestamp(claims["exp"], tz=UTC))
    except TokenExpired:
        expires_at = datetime.fromtimestamp(json.loads(_decode(token.partition(".")[0]))["exp"], tz=UTC)
        raise AckLinkExpired(
            f"This acknowledgement link expired at {expires_at.isoformat()}; "
            "acknowledge the case another way (CLI, gateway, or a newer message)."
        ) from None
    except TokenError as problem:
        altered = "altered" in str(problem)
        raise AckLinkInvalid(
            "This acknowledgement link was altered or was not issued by this supportflow."
            if altered
            else "This acknowledgement link is damaged or incomplete; open the whole link from the message."
        ) from None
    except KeyError:
        raise AckLinkInvalid("This acknowledgement link is damaged; open the whole link from the message.") from None


# --- portal sign-in links --------------------------------------------------------------------------


def portal_url(public_url: str, tenant: str, email: str, expires_at: datetime, secret: str) -> str:
    token = sign("portal-link", {"t": tenant, "e": email.lower()}, expires_at, secret)
    return f"{public_url}/portal/login?token={token}"


def _signature(purpose: str, payload: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"supportflow-{purpose}-v1.".encode() + payload.encode(), hashlib.sha256)
    return _encode(digest.digest())


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
