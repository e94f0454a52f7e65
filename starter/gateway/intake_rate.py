"""Intake requests per minute, per API key (Decision 16): `SUPPORTFLOW_RATE_INTAKE`, default 12,000; 0 turns it off.

One misbehaving intake system (a mail loop, a retry storm) must not starve
the others or flood Temporal with starts. Counted with the `limits` library's
sliding window in this gateway process (behind several gateways the limit is
per process). Over it: a 429 naming the key, with `Retry-After` in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

import environment
from environment import SettingsError
from starter.gateway.auth import INTAKE
from starter.gateway.errors import GatewayError
from starter.gateway.responses import ErrorBody, Responses
from starter.gateway.settings import ApiKey

RATE_VARIABLE = "SUPPORTFLOW_RATE_INTAKE"
DEFAULT_PER_MINUTE = 12_000
TOO_MANY: Responses = {
    429: {
        "model": ErrorBody,
        "description": f"This key sent more intake requests than {RATE_VARIABLE} allows per minute",
        "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    }
}


class TooManyRequests(GatewayError):
    status = 429


class IntakeRate:
    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.item = RateLimitItemPerMinute(per_minute) if per_minute else None
        # The asyncio storage: the threaded one starts a thread to expire its counters on nearly every request.
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IntakeRate:
        raw = (environment.value(RATE_VARIABLE, env) or "").strip()
        if raw and not raw.isdigit():
            raise SettingsError(f"{RATE_VARIABLE}={raw!r}: expected a whole number per minute (0 turns it off)")
        return cls(int(raw) if raw else DEFAULT_PER_MINUTE)

    async def retry_after(self, key_name: str) -> int | None:
        """Seconds to wait when this key is over its limit; None (and the request counted) otherwise."""
        if self.item is None or await self.limiter.hit(self.item, "intake", key_name):
            return None
        reset_at = (await self.limiter.get_window_stats(self.item, "intake", key_name)).reset_time
        return max(1, math.ceil(reset_at - time.time()))


async def within_intake_rate(http: Request, key: ApiKey = INTAKE) -> None:
    """A route dependency, after the key is known."""
    rate: IntakeRate = http.app.state.intake_rate
    wait = await rate.retry_after(key.name)
    if wait is not None:
        raise TooManyRequests(
            f"API key {key.name!r} sent more than {rate.per_minute} intake requests in a minute; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
