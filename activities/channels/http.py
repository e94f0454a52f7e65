"""One HTTP POST with DESIGN's classification (Delivery, Retries).

408, 429, 5xx, timeouts and connection errors are worth retrying; any other
4xx, and any 3xx, fail at once. Redirects are never followed: a webhook that
moved should be fixed in the policy, not silently chased.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from activities.channels import tls
from activities.channels.failures import DeliveryRejected, DeliveryUnavailable
from activities.settings import Settings

RETRYABLE_STATUS = frozenset({408, 429})
MAX_RETRY_AFTER = timedelta(seconds=60)  # never wait longer than the retry policy's maximum interval
_SNIPPET = 200


async def post(
    url: str,
    *,
    idempotency_key: str,
    settings: Settings,
    json: Any = None,
    form: dict[str, str] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    """POST once; returns the 2xx response or raises DeliveryRejected / DeliveryUnavailable.

    `content` sends exact bytes (a signed body must arrive as signed); `headers` adds to ours."""
    where = _where(url)
    sent = {"Idempotency-Key": idempotency_key, "User-Agent": "supportflow", **(headers or {})}
    try:
        async with httpx.AsyncClient(
            timeout=settings.delivery_timeout, follow_redirects=False, verify=tls.for_http()
        ) as client:
            response = await client.post(url, json=json, data=form, content=content, auth=auth, headers=sent)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        raise DeliveryUnavailable(f"{where} did not answer within {settings.delivery_timeout:g} s") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as problem:
        raise DeliveryRejected(f"{where} is not a usable URL: {problem}") from None
    except httpx.TransportError as problem:
        raise DeliveryUnavailable(f"{where} could not be reached: {type(problem).__name__}: {problem}") from None
    return _classified(response, where)


def _classified(response: httpx.Response, where: str) -> httpx.Response:
    status = response.status_code
    if 200 <= status < 300:
        return response
    said = f"{where} answered HTTP {status}" + _snippet(response)
    if status in RETRYABLE_STATUS or status >= 500:
        raise DeliveryUnavailable(said, retry_after=_retry_after(response))
    if 300 <= status < 400:
        location = response.headers.get("location")
        moved = f"; it redirects to {_where(location)}, update the address" if location else ""
        raise DeliveryRejected(f"{said}; redirects are not followed{moved}")
    raise DeliveryRejected(said)


def _where(url: str) -> str:
    """Scheme and host only: chat and webhook URLs often carry a secret in the path, and errors reach the timeline."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "the delivery URL"


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return f": {text[:_SNIPPET]}" if text else ""


def _retry_after(response: httpx.Response) -> timedelta | None:
    """Honour a numeric Retry-After (429, 503), capped at the retry policy's maximum interval."""
    value = response.headers.get("retry-after", "")
    if not value.isdigit():
        return None
    return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
