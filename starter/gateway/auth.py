"""`Authorization: Bearer <key>`, with the scopes DESIGN gives each route.

`intake` opens cases, comments and reads one case; `operate` reads
everything and runs every update; `admin` may do anything. A missing or
unknown key is a 401, a known key without the scope a 403. Keys are
compared in constant time, against every configured key.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from starter.client import tenant_of
from starter.gateway.errors import Forbidden, Unauthorized
from starter.gateway.settings import ApiKey, GatewaySettings

bearer = HTTPBearer(auto_error=False, description="An API key from SUPPORTFLOW_API_KEYS")


def find_key(settings: GatewaySettings, presented: str) -> ApiKey | None:
    found = None
    for candidate in settings.api_keys:
        # No early exit: the time taken does not tell which key, or how much of one, matched.
        if hmac.compare_digest(candidate.key.encode(), presented.encode()):
            found = candidate
    return found


def require(*scopes: str):
    """A dependency that lets through a key holding any of `scopes` (admin always passes)."""
    allowed = frozenset(scopes) | {"admin"}

    async def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiKey:
        settings: GatewaySettings = request.app.state.settings
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("send an API key as Authorization: Bearer <key>")
        key = find_key(settings, credentials.credentials)
        if key is None:
            raise Unauthorized("this API key is not valid")
        if not key.scopes & allowed:
            raise Forbidden(f"this API key lacks the scope for this route (needs one of: {', '.join(sorted(allowed))})")
        tenant = request.query_params.get("tenant") or tenant_of(request.path_params.get("case_id") or "")
        if not key.allows(tenant):
            raise Forbidden(f"this API key is not for tenant {tenant!r}")
        return key

    return check


# The checks themselves, for a route that runs them without FastAPI (starter/gateway/direct_route.py).
intake_key = require("intake")
INTAKE = Depends(intake_key)
OPERATE = Depends(require("operate"))
READ_ONE = Depends(require("intake", "operate"))
ADMIN = Depends(require("admin"))
