"""An SMTP server that only counts: at 100,000 cases the tests' recording receiver would keep every message."""

from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingSmtp:
    """Accepts every message on 127.0.0.1 (a free port) and counts it; the worker's acknowledgements land here."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.count = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    def env(self) -> dict[str, str]:
        return {
            "SUPPORTFLOW_SMTP_HOST": self.host,
            "SUPPORTFLOW_SMTP_PORT": str(self.port),
            "SUPPORTFLOW_SMTP_TLS": "none",
        }

    async def start(self) -> CountingSmtp:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="receiver.test", loop=loop), self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
        self._server = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"
