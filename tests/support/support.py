"""Small helpers every kind of test shares: waiting for asynchronous results, and
the shipped policies rewritten so chat and webhook contacts reach a local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from receivers import HttpReceiver, Reply, SmtpReceiver
from temporalio.client import Client

import tenant_policies
from starter import client as cases
from workflows.contracts import CaseRequest

REPO = Path(__file__).resolve().parents[2]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, every: float = 0.1) -> Any:
    """Ask again until `check` returns something truthy (visibility and deliveries are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(every)


async def opened_status(handle) -> Any:
    """The case's `CaseStatus` once its first workflow task has run. Its search attributes are no sign of
    that: `start_case` starts a case with them (docs/contracts.md)."""
    from workflows.contracts import CaseStatus

    async def ask():
        try:
            return await handle.query("status", result_type=CaseStatus)
        except Exception:  # still opening: the query finds no policy yet, or no finished first task
            return None

    return await eventually(ask)


def write_policies(folder: Path, hooks: HttpReceiver, copies: dict[str, str] | None = None) -> None:
    """The shipped policies with every chat and webhook contact on `hooks` (/chat/<id>, /webhook/<id>);
    `copies` maps a new tenant name to the shipped tenant it copies."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (REPO / "policies").glob("*.yaml"):
        policy = yaml.safe_load(source.read_text())
        for contact_id, contact in policy.get("contacts", {}).items():
            for channel in ("chat", "webhook"):
                if channel in contact:
                    contact[channel] = hooks.url(f"/{channel}/{contact_id}")
        (folder / source.name).write_text(yaml.safe_dump(policy, sort_keys=False))
        for copy, original in (copies or {}).items():
            if policy["tenant"] == original:
                (folder / f"{copy}.yaml").write_text(yaml.safe_dump(policy | {"tenant": copy}, sort_keys=False))


async def start_case(client: Client, request: CaseRequest, queue: str | None = None) -> cases.Opened:
    """`starter.client.start_case` with the tenant's policy from SUPPORTFLOW_POLICY_DIR, as the gateway starts one."""
    year = (request.received_at or datetime.now(UTC)).year
    return await cases.start_case(client, request, tenant_policies.loaded_policy(request.tenant, year), queue)


@asynccontextmanager
async def delivery_stand_ins(
    root: Path, env: pytest.MonkeyPatch
) -> AsyncIterator[tuple[HttpReceiver, HttpReceiver, SmtpReceiver]]:
    """Webhook/chat, Twilio and SMTP stand-ins, the shipped policies (under `root`) pointing at them, and the
    environment a worker or gateway in this process needs to deliver to them."""
    async with (
        HttpReceiver() as hooks,
        HttpReceiver(default=Reply(201, json={"sid": "SMtest"})) as twilio,
        SmtpReceiver() as smtp,
    ):
        write_policies(root / "policies", hooks)
        env.setenv("SUPPORTFLOW_POLICY_DIR", str(root / "policies"))
        env.setenv("SUPPORTFLOW_TWILIO_BASE_URL", twilio.base_url)
        env.setenv("TWILIO_ACCOUNT_SID", "ACtest00000000000000000000000000")
        env.setenv("TWILIO_AUTH_TOKEN", "twilio-test-token")
        env.setenv("SUPPORTFLOW_TWILIO_FROM", "+15555550199")
        for name in ("SUPPORTFLOW_SMTP_USER", "SUPPORTFLOW_SMTP_PASSWORD"):
            env.delenv(name, raising=False)
        for name, value in smtp.env().items():
            env.setenv(name, value)
        yield hooks, twilio, smtp
