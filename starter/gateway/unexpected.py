"""The last line: anything no handler expected becomes a JSON 500, logged with the case id, and the
connection stays open.

Every known bad input is refused at its source with a 4xx; this is for the
bug nobody has found yet. Starlette's own last-resort handler answers in
plain text and then re-raises, and uvicorn closes a keep-alive connection
when an application raises, so this middleware answers and does not re-raise.
"""

from __future__ import annotations

import json
import logging
import re

log = logging.getLogger("supportflow.gateway")
CASE_ID = re.compile(r"case-[a-z0-9][a-z0-9_-]*")
BODY = json.dumps({"error": "the gateway failed on this request; it is logged, and nothing was half-done"}).encode()


class UnexpectedErrors:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            case = CASE_ID.search(scope.get("path", ""))
            log.exception(
                "unexpected failure on %s %s (case %s)",
                scope.get("method"),
                scope.get("path"),
                case.group(0) if case else "none",
            )
            if started:  # too late for a status: end the body so the connection can carry the next request
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(BODY)).encode()),
                        (b"x-content-type-options", b"nosniff"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": BODY})
