"""Request bodies have a ceiling: Temporal refuses payloads over 2 MB, and nobody's support request is that long.

A pure ASGI middleware that reads the body before the route does, so a
chunked body without Content-Length is held to the same limit. Raw email
gets more room: attachments count, though only their names reach the case.
"""

from __future__ import annotations

import json

BODY_LIMIT = 1024 * 1024
EMAIL_LIMIT = 25 * 1024 * 1024
EMAIL_PATH = "/v1/intake/email"
# The codec carries Temporal payloads (up to 2 MB each), base64-encoded.
CODEC_LIMIT = 8 * 1024 * 1024
CODEC_PATHS = ("/codec/decode", "/codec/encode")


class BodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = (
            EMAIL_LIMIT if scope["path"] == EMAIL_PATH else CODEC_LIMIT if scope["path"] in CODEC_PATHS else BODY_LIMIT
        )
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _too_large(send, limit)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _too_large(send, limit)
            more = message.get("more_body", False)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"error": f"the request body is larger than {limit // (1024 * 1024)} MB"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
