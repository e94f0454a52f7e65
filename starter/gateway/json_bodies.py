"""JSON bodies are UTF-8 text, and every string in them is text: a 422 naming the field, before any route runs.

`json.loads` turns the escape `"\\ud800"` into a lone surrogate, which pydantic
accepts and nothing downstream can encode (Temporal's payloads, our own error
bodies). Bytes that are not UTF-8 would otherwise surface as FastAPI's bare 400.
This middleware reads the body `BodyLimit` has already capped, checks exactly
the bodies FastAPI would parse as JSON, and passes the same bytes on.
"""

from __future__ import annotations

import email.message
import json
import re
from functools import lru_cache
from typing import Any

from starter.gateway.errors import FieldErrors

# A lone surrogate reaches a JSON body only as an escape from \uD800 to \uDFFF (raw, it is not UTF-8). A body
# without one (nearly every intake body) needs no walk through its strings (issue 17: gateway CPU).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
NOT_TEXT = "contains a lone UTF-16 surrogate (an escape such as \\ud800 that is half a character): not text"


class JsonBodyCheck:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _parsed_as_json(scope):
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problems = body_problems(body)
        if problems:
            return await _unprocessable(send, FieldErrors(problems))
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def body_problems(body: bytes) -> list[tuple[str, str]]:
    """(field, problem) for a body that is not UTF-8 or holds a lone surrogate; [] for any other body
    (invalid JSON syntax is FastAPI's to report, also as a 422)."""
    if not body:
        return []
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        byte = body[problem.start]
        return [("body", f"is not UTF-8 text (byte 0x{byte:02x} at position {problem.start})")]
    try:
        parsed = json.loads(text)
    except ValueError:
        return []
    except RecursionError:
        return [("body", "is nested too deeply to be a request")]
    if not SURROGATE_ESCAPE.search(body):
        return []
    return [(field, NOT_TEXT) for field in _surrogate_paths(parsed)]


def _surrogate_paths(value: Any) -> list[str]:
    """Dotted paths of the strings (or keys) that are not text; iterative, so any depth json.loads took is fine."""
    found: list[str] = []
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                found.append(".".join(path) or "body")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if _is_text(key):
                    stack.append((inner, (*path, key)))
                else:
                    found.append(".".join((*path, "(a key)")))
        elif isinstance(item, list):
            stack.extend((inner, (*path, str(index))) for index, inner in enumerate(item))
    return sorted(found)


def _is_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parsed_as_json(scope) -> bool:
    """Every body FastAPI might parse as JSON: no Content-Type (a lenient route), or one that declares JSON."""
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    declared = dict(scope["headers"]).get(b"content-type")
    return declared is None or declares_json(declared.decode("latin-1"))


@lru_cache(maxsize=256)
def declares_json(content_type: str | None) -> bool:
    """FastAPI's own rule: application/json or application/*+json, parameters allowed. Clients send the
    same few values; each parse builds an `email.message.Message`."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _unprocessable(send, error: FieldErrors) -> None:
    body = json.dumps(error.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
