"""Small helpers every kind of test shares: waiting for asynchronous results, and
the shipped policies rewritten so chat and webhook contacts reach a local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from receivers import HttpReceiver
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
