"""The outbox under test: one dev server, the production worker and a gateway served by uvicorn on a real port,
all in outbox mode, as `supportflow up` runs them (the worker delivers to the gateway's stand-ins and SMTP server).

Import with `from outbox_fixtures import OutboxStack, outbox_stack, serve_gateway  # noqa: F401`.
The shipped policies are used unchanged: their chat and webhook URLs (`*.example`) never leave the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from receivers import listener_on
from support import REPO
from temporal_fixtures import case_worker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.devserver import DevServer, free_port
from starter.gateway.app import create_app
from starter.gateway.settings import GatewaySettings
from workflows.contracts import CaseStatus

KEYS = {"intake": "outbox-intake-key", "operate": "outbox-operate-key", "admin": "outbox-admin-key"}
ACK_SECRET = "outbox-test-ack-secret"
PORTAL_SECRET = "outbox-test-portal-secret"


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_gateway(client: Client, listener: socket.socket) -> AsyncIterator[Any]:
    """The gateway app (lifespan included, so the outbox starts as configured) on `listener`."""

    async def same_client() -> Client:
        return client

    app = create_app(client_factory=same_client, settings=GatewaySettings.from_env())
    server = _QuietServer(uvicorn.Config(app, log_config=None, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not serving.done(), "the gateway did not start"
        await asyncio.sleep(0.01)
    try:
        yield app
    finally:
        server.should_exit = True
        await serving


@dataclass
class OutboxStack:
    url: str
    client: Client
    app: Any
    smtp_port: int

    @staticmethod
    def auth(scope: str = "operate") -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[scope]}"}

    async def get(self, path: str, scope: str = "operate", **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            return await http.get(path, headers=self.auth(scope), **kwargs)

    async def post(self, path: str, scope: str = "intake", **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            return await http.post(path, headers=self.auth(scope), **kwargs)

    async def outbox(self, case_id: str) -> list[dict]:
        answer = await self.get("/v1/outbox", params={"case_id": case_id})
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def status(self, case_id: str) -> CaseStatus:
        answer = await self.get(f"/v1/cases/{case_id}")
        assert answer.status_code == 200, answer.text
        return CaseStatus.model_validate(answer.json())


def outbox_env(env: pytest.MonkeyPatch, gateway_port: int, smtp_port: int) -> None:
    """What `supportflow up` gives the worker and the gateway in outbox mode (starter/stack.py)."""
    url = f"http://127.0.0.1:{gateway_port}"
    for name, value in {
        "SUPPORTFLOW_DELIVERY": "outbox",
        "SUPPORTFLOW_PUBLIC_URL": url,
        "SUPPORTFLOW_OUTBOX_URL": url,
        "SUPPORTFLOW_OUTBOX_SMTP_PORT": str(smtp_port),
        "SUPPORTFLOW_SMTP_HOST": "127.0.0.1",
        "SUPPORTFLOW_SMTP_PORT": str(smtp_port),
        "SUPPORTFLOW_SMTP_TLS": "none",
    }.items():
        env.setenv(name, value)


@pytest_asyncio.fixture(scope="module")
async def outbox_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OutboxStack]:
    root = tmp_path_factory.mktemp("outbox")
    listener = listener_on()
    gateway_port, smtp_port = listener.getsockname()[1], free_port()
    with pytest.MonkeyPatch.context() as env:
        for name in (
            "SUPPORTFLOW_SMTP_USER",
            "SUPPORTFLOW_SMTP_PASSWORD",
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "SUPPORTFLOW_TWILIO_FROM",
            "SUPPORTFLOW_TWILIO_BASE_URL",
        ):
            env.delenv(name, raising=False)
        env.setenv("SUPPORTFLOW_POLICY_DIR", str(REPO / "policies"))
        env.setenv("SUPPORTFLOW_ACK_SECRET", ACK_SECRET)
        env.setenv("SUPPORTFLOW_PORTAL_SECRET", PORTAL_SECRET)
        env.setenv("SUPPORTFLOW_API_KEYS", ",".join(f"{key}={scope}" for scope, key in KEYS.items()))
        env.setenv("SUPPORTFLOW_OUTBOX_FILE", str(root / "outbox.sqlite"))
        env.setenv("SUPPORTFLOW_RATE_PORTAL_LINKS", "0")
        outbox_env(env, gateway_port, smtp_port)
        async with DevServer(root / "temporal", ui=False) as server:
            client = await server.connect(data_converter=pydantic_data_converter)
            async with case_worker(client) as queue:
                env.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
                async with serve_gateway(client, listener) as app:
                    yield OutboxStack(f"http://127.0.0.1:{gateway_port}", client, app, smtp_port)
