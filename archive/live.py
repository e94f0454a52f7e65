"""Open cases count with their live state: each archived row that is not final is replaced by the case's own
status, asked of Temporal with the `status` query. A query runs no workflow code that changes anything and
adds nothing to any history, so a report costs the cases nothing (measured: docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client

from workflows.contracts import CaseStatus

CONCURRENCY = 32
QUERY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Statuses:
    cases: list[CaseStatus]
    asked: int  # open rows whose live status was asked for
    stale: dict[str, str]  # open cases that could not answer (and why): counted from their archived row


async def with_live_status(archived: Sequence[CaseStatus], client: Client | None) -> Statuses:
    """`archived` with every open row replaced by its live status; without a client, as archived."""
    open_rows = [i for i, status in enumerate(archived) if status.state != "closed"]
    cases = list(archived)
    if client is None:
        return Statuses(cases, 0, {cases[i].case_id: "Temporal was not asked" for i in open_rows})
    gate = asyncio.Semaphore(CONCURRENCY)
    stale: dict[str, str] = {}

    async def refresh(index: int) -> None:
        async with gate:
            try:
                handle = client.get_workflow_handle(cases[index].case_id)
                query = handle.query("status", result_type=CaseStatus)
                cases[index] = await asyncio.wait_for(query, QUERY_TIMEOUT_SECONDS)
            except Exception as problem:  # gone, not answering, no worker: the archived row is what we know
                stale[cases[index].case_id] = f"{type(problem).__name__}: {problem}"[:300]

    await asyncio.gather(*(refresh(i) for i in open_rows))
    return Statuses(cases, len(open_rows), dict(sorted(stale.items())))
