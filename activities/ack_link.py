"""Signed, expiring acknowledgement links (DESIGN "Webhook": `GET /v1/ack/{token}`).

The engineer paged at 2 am has a phone, not an API key, so the link itself
is the credential: it names the case and the contact, and an HMAC-SHA256
signature under SUPPORTFLOW_ACK_SECRET stops anyone from editing either.
The token is `<payload>.<signature>`, both base64url without padding, where
the payload is the JSON `{"case_id", "contact", "exp"}` (`exp` in Unix
seconds). Deliveries build links; the gateway verifies them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from activities.settings import Settings

ACK_LINK_LIFETIME = timedelta(days=7)
# Keeps these signatures from being valid for any other purpose that might share the secret.
_PURPOSE = b"supportflow-ack-v1."


class AckLinkError(ValueError):
    """An acknowledgement link that cannot be honoured; the message is fit to show the person who clicked it."""


class AckLinkInvalid(AckLinkError):
    """Damaged, truncated, or not signed by us."""


class AckLinkExpired(AckLinkError):
    """Genuine, but past its expiry."""


@dataclass(frozen=True)
class AckClaim:
    """What a valid link proves: `contact` may acknowledge `case_id`."""

    case_id: str
    contact: str
    expires_at: datetime


def ack_token(case_id: str, contact: str, expires_at: datetime, settings: Settings | None = None) -> str:
    settings = settings or Settings.from_env()
    claim = {"case_id": case_id, "contact": contact, "exp": int(expires_at.timestamp())}
    payload = _encode(json.dumps(claim, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(payload, settings.ack_secret)}"


def ack_url(case_id: str, contact: str, expires_at: datetime, settings: Settings | None = None) -> str | None:
    """The link for `contact` to acknowledge `case_id`, or None when there is nobody to credit the acknowledgement to."""
    if not case_id or not contact:
        return None
    settings = settings or Settings.from_env()
    return f"{settings.public_url}/v1/ack/{ack_token(case_id, contact, expires_at, settings)}"


def token_in(link: str) -> str:
    """The token of a link `ack_url` built: a Slack button carries it back instead of the whole link."""
    return link.rsplit("/v1/ack/", 1)[-1]


def verify_ack_token(token: str, now: datetime, settings: Settings | None = None) -> AckClaim:
    """The claim a token carries; raises AckLinkInvalid or AckLinkExpired with a message for the clicker."""
    settings = settings or Settings.from_env()
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise AckLinkInvalid("This acknowledgement link is incomplete; open the whole link from the message.")
    if not hmac.compare_digest(signature.encode(), _sign(payload, settings.ack_secret).encode()):
        raise AckLinkInvalid("This acknowledgement link was altered or was not issued by this supportflow.")
    try:
        claim = json.loads(_decode(payload))
        expires_at = datetime.fromtimestamp(int(claim["exp"]), tz=UTC)
        case_id, contact = str(claim["case_id"]), str(claim["contact"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise AckLinkInvalid("This acknowledgement link is damaged; open the whole link from the message.") from None
    if now >= expires_at:
        raise AckLinkExpired(
            f"This acknowledgement link expired at {expires_at.isoformat()}; "
            "acknowledge the case another way (CLI, gateway, or a newer message)."
        )
    return AckClaim(case_id=case_id, contact=contact, expires_at=expires_at)


def _sign(payload: str, secret: str) -> str:
    return _encode(hmac.new(secret.encode(), _PURPOSE + payload.encode(), hashlib.sha256).digest())


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
