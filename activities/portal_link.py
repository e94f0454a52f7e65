"""The requester's way into the portal, carried by the acknowledgement email (DESIGN "Portal")."""

from __future__ import annotations

from datetime import datetime, timedelta

from activities import signing

# Longer than the gateway's on-demand links (24 h): the acknowledgement email is kept and reopened.
PORTAL_LINK_LIFETIME = timedelta(days=7)


def portal_url(public_url: str, tenant: str, email: str, expires_at: datetime, secret: str) -> str:
    token = signing.sign("portal-link", {"t": tenant, "e": email.lower()}, expires_at, secret)
    return f"{public_url}/portal/login?token={token}"
