"""The portal's answers when something is wrong, in a requester's words: no internal error reaches them."""

from __future__ import annotations

import logging

from fastapi.responses import HTMLResponse

from starter.client import CaseError
from starter.gateway.errors import FieldErrors, GatewayError, http_status
from starter.gateway.pages import message_page
from tenant_policies import PolicyError, UnknownTenant

# What can go wrong behind a portal page: each is logged, and the requester reads a plain sentence.
TROUBLE = (GatewayError, CaseError, UnknownTenant, PolicyError)

log = logging.getLogger("supportflow.portal")


def signed_out() -> HTMLResponse:
    return message_page("Please sign in", "Open the sign-in link from your support email to see your cases.", 401)


def not_found() -> HTMLResponse:
    return message_page("Case not found", "There is no case with this id among your cases.", 404)


def trouble_page(trouble: Exception) -> HTMLResponse:
    """Temporal unreachable or slow, a policy that cannot be read: logged whole, told plainly."""
    log.warning("portal: %s: %s", type(trouble).__name__, trouble)
    if isinstance(trouble, (FieldErrors, UnknownTenant)):  # the tenant's policy file is gone
        return message_page("No support portal here", "This support portal is not available.", 404)
    status = http_status(trouble) if isinstance(trouble, CaseError) else getattr(trouble, "status", 503)
    return message_page(
        "Please try again in a few minutes",
        "Your support cases cannot be shown just now. Nothing you sent is lost.",
        503 if status >= 500 else status,
    )
