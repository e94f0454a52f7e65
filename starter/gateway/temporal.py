"""The gateway's one Temporal client, connected on first use.

So the gateway starts (and `/healthz` says what is wrong) even while
Temporal is still coming up. Everything done with the client goes through
`starter/client.py`; its errors become HTTP answers in `errors.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio.client import Client
from temporalio.service import RPCError

from starter.client import TemporalUnavailable, connect

ClientFactory = Callable[[], Awaitable[Client]]


class Temporal:
    def __init__(self, factory: ClientFactory = connect):
        self._factory = factory
        self._client: Client | None = None
        self._connecting = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._connecting:
                if self._client is None:
                    try:
                        self._client = await self._factory()
                    except RuntimeError as problem:  # the SDK reports an unreachable server as a RuntimeError
                        raise TemporalUnavailable(f"cannot reach Temporal: {str(problem).splitlines()[0]}") from None
        return self._client

    async def reachable(self) -> str | None:
        """None when Temporal answers a health check, else why not."""
        try:
            client = await self.client()
            if await client.service_client.check_health():
                return None
            return "Temporal reports it is not serving"
        except TemporalUnavailable as problem:
            return problem.message
        except RPCError as problem:
            return f"Temporal health check failed: {problem.message}"
