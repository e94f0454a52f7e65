"""Every answer says `X-Content-Type-Options: nosniff`; every HTML page also carries a Content-Security-Policy
with `frame-ancestors 'none'`, `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`.

Pages built with `pages.page` set their own policy (their stylesheet by hash);
any other HTML the gateway sends (FastAPI's own error pages, a future route)
gets the strictest one, so no page can be framed, run a script, or leak a
token in a Referer header because someone forgot a header.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

from starter.gateway.pages import CONTENT_SECURITY_POLICY

STRICT_POLICY = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
HTML_HEADERS = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").lower().startswith("text/html"):
                    policy = headers.get("content-security-policy") or STRICT_POLICY
                    if "frame-ancestors" not in policy:
                        policy += "; frame-ancestors 'none'"
                    headers["Content-Security-Policy"] = policy
                    for name, value in HTML_HEADERS.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
