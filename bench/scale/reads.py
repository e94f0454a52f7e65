"""What an operator waits for at a level: a list of breached cases (gateway and CLI), the fleet audit, and sizes.

Each has a bare-Temporal counterpart on the floor's server: the same page
size from visibility, the `temporal` CLI's own list, and a workflow running
one activity.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities.audit import missed_deadline_query
from bench.floor import FLOOR_WORKFLOW
from bench.load import percentile
from bench.policy import REPO, TENANT
from bench.stack import CASE_QUEUE, FLOOR_QUEUE, Stack
from starter.auditor import WORKFLOW_TYPE as AUDIT_WORKFLOW
from starter.devserver import temporal_binary
from workflows.audit_report import AuditReport

PAGE = 50  # the gateway's default page
FLOOR_LIST = "WorkflowType = 'BenchFloor' AND ExecutionStatus = 'Running'"
# The auditor's query shape on bare workflows: running, a datetime range that matches nothing.
FLOOR_AUDIT_QUERY = FLOOR_LIST + " AND StartTime < '2000-01-01T00:00:00Z'"


@dataclass
class Reads:
    list_p50: float = 0.0
    list_p99: float = 0.0
    cli_p50: float = 0.0
    cli_p99: float = 0.0
    audit: float = 0.0  # start to report, seconds
    audit_query: float = 0.0  # the visibility query alone
    sqlite_bytes: int = 0
    server_rss: int = 0
    worker_rss: int = 0


async def timed(call, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


async def run_timed(command: list[str], env: dict[str, str], count: int) -> list[float]:
    def once() -> float:
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:4])}… exited {done.returncode}: {done.stderr[-600:]}")
        return time.perf_counter() - started

    return [await asyncio.to_thread(once) for _ in range(count)]


def sizes(stack: Stack, reads: Reads) -> None:
    db = stack.server.db_file
    reads.sqlite_bytes = sum(
        path.stat().st_size for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if path.exists()
    )
    reads.server_rss = stack.rss("server")
    reads.worker_rss = stack.rss("worker")


def spread(reads: Reads, prefix: str, took: list[float]) -> None:
    setattr(reads, f"{prefix}_p50", percentile(took, 0.5))
    setattr(reads, f"{prefix}_p99", percentile(took, 0.99))


async def case_reads(stack: Stack, side, count: int, cli_count: int) -> Reads:
    reads = Reads()

    async def page() -> None:
        answer = await side.http.get(
            f"{stack.gateway_url}/v1/cases", params={"tenant": TENANT, "breached": "true", "limit": PAGE}
        )
        answer.raise_for_status()

    spread(reads, "list", await timed(page, count))
    env = stack.child_env(CASE_QUEUE)
    command = [sys.executable, "-m", "starter.cli", "case", "list", "--tenant", TENANT, "--breached"]
    spread(reads, "cli", await run_timed(command, env, cli_count))

    started = time.perf_counter()
    await stack.client.execute_workflow(
        AUDIT_WORKFLOW, id=f"scale-audit-{uuid.uuid4().hex[:8]}", task_queue=CASE_QUEUE, result_type=AuditReport
    )
    reads.audit = time.perf_counter() - started
    cutoff = (datetime.now(UTC) - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    started = time.perf_counter()
    [found async for found in stack.client.list_workflows(missed_deadline_query(cutoff), limit=501)]
    reads.audit_query = time.perf_counter() - started
    sizes(stack, reads)
    return reads


async def floor_reads(stack: Stack, count: int, cli_count: int) -> Reads:
    reads = Reads()

    async def page() -> None:
        listing = stack.client.list_workflows(FLOOR_LIST, page_size=PAGE)
        await listing.fetch_next_page()

    spread(reads, "list", await timed(page, count))
    command = [
        str(temporal_binary()),
        "workflow",
        "list",
        "--address",
        stack.server.address,
        "--query",
        FLOOR_LIST,
        "--limit",
        "100",
    ]
    spread(reads, "cli", await run_timed(command, dict(os.environ), cli_count))

    started = time.perf_counter()
    await stack.client.execute_workflow(
        FLOOR_WORKFLOW, time.time(), id=f"floor-audit-{uuid.uuid4().hex[:8]}", task_queue=FLOOR_QUEUE
    )
    reads.audit = time.perf_counter() - started
    started = time.perf_counter()
    [found async for found in stack.client.list_workflows(FLOOR_AUDIT_QUERY, limit=501)]
    reads.audit_query = time.perf_counter() - started
    sizes(stack, reads)
    return reads
