"""The two systems a scale run grows side by side, each on its own dev server: the bare floor, and supportflow.

A side opens three kinds of item: fill (deadlines days ahead), timed (a
deadline in a window the run chooses) and burst (fill items opened as fast
as an intake path goes, to time it). It says how far its worker lags behind
what was opened, and when each timed item's deadline was acted on.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from bench.floor import FLOOR_WORKFLOW
from bench.load import Arrivals
from bench.policy import TENANT
from bench.scale.policy import FILL_SEVERITY, TIMED_RESPONSE_HOURS, TIMED_SEVERITY
from bench.stack import API_KEY, CASE_QUEUE, FLOOR_QUEUE, Stack
from starter.client import start_case
from workflows.contracts import CaseRequest, Requester

DAY = 86_400.0
BACKLOG_POLL = 0.5  # seconds; the server refreshes its task queue statistics about this often
BACKLOG_FAILURES = 20  # in a row: ten seconds without an answer
FILL_RECEIVED_WITHIN = timedelta(hours=12)  # Sev 4 received this recently warns and breaches days ahead


class FloorSide:
    """Bare workflows (bench/floor.py): one timer to a deadline, then one no-op activity."""

    name = "floor"
    paths = ("start_workflow",)

    def __init__(self, stack: Stack, seed: int):
        self.stack = stack
        self.random = random.Random(seed)
        self.backlog = 0
        self._watching: asyncio.Task | None = None

    async def start(self) -> None:
        await self.stack.start_worker(FLOOR_QUEUE, floor=True)
        self._watching = asyncio.create_task(self._watch_backlog())

    async def stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)

    async def _watch_backlog(self) -> None:
        """The server may cancel one statistics request (a 10,000 run once stopped on "operation was
        canceled"); the last count stands until the next, and only a server that stops answering ends the run."""
        failures = 0
        while True:
            try:
                self.backlog = await self.stack.backlog(FLOOR_QUEUE)
                failures = 0
            except RPCError:
                failures += 1
                if failures >= BACKLOG_FAILURES:
                    raise
            await asyncio.sleep(BACKLOG_POLL)

    async def _start(self, deadline: float) -> WorkflowHandle:
        return await self.stack.client.start_workflow(
            FLOOR_WORKFLOW, deadline, id=f"floor-{uuid.uuid4().hex}", task_queue=FLOOR_QUEUE, result_type=float
        )

    async def open_fill(self) -> None:
        await self._start(time.time() + self.random.uniform(1 * DAY, 4 * DAY))

    async def open_timed(self, deadline: float) -> WorkflowHandle:
        return await self._start(deadline)

    def burst_call(self, path: str) -> Callable[[], Awaitable[object]]:
        return self.open_fill

    @staticmethod
    def workflow_id(item: WorkflowHandle) -> str:
        return item.id

    def lag(self) -> int:
        """Started workflows whose first task is still waiting for the worker. Unpaced, the floor's fill ran
        far ahead of its worker (a backlog of 30,000 tasks at 50,000 open), which then took the shared
        cores through both sides' windows and bursts."""
        if self._watching is not None and self._watching.done():
            self._watching.result()  # raises what stopped the watch: a lag stuck at 0 would pace nothing
        return self.backlog

    async def acted(self, items: Sequence[WorkflowHandle], until: float) -> list[float | None]:
        """When each timed workflow's activity started (epoch seconds), None if not by `until`."""

        async def started(handle: WorkflowHandle) -> float | None:
            try:
                return await asyncio.wait_for(handle.result(), max(1.0, until - time.time()))
            except TimeoutError:
                return None

        return list(await asyncio.gather(*(started(handle) for handle in items)))


class CaseSide:
    """supportflow: blockit cases (bench/scale/policy.py) through `start_case` and the gateway."""

    name = "supportflow"
    paths = ("gateway", "start_case")

    def __init__(self, stack: Stack, seed: int, concurrency: int):
        self.stack = stack
        self.random = random.Random(seed)
        self.run = uuid.uuid4().hex[:8]
        self.opened = 0
        self.arrivals = Arrivals(stack.hooks.requests)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {API_KEY}"}, limits=limits, timeout=httpx.Timeout(120.0)
        )

    async def start(self) -> None:
        await self.stack.start_worker(CASE_QUEUE, floor=False)
        await self.stack.start_gateway()

    async def stop(self) -> None:
        await self.http.aclose()

    def request(self, severity: int, received_at: datetime) -> CaseRequest:
        self.opened += 1
        return CaseRequest(
            tenant=TENANT,
            channel="api",
            requester=Requester(name="Ana Diaz", email="ana@clinic.example", company="Clinic Co"),
            subject="Scheduling page slow",
            description="The scheduling page takes a minute to load for one clinic.",
            severity=severity,
            received_at=received_at,
            source_id=f"scale-{self.run}-{self.opened}",
        )

    def fill_request(self) -> CaseRequest:
        received = datetime.now(UTC) - self.random.random() * FILL_RECEIVED_WITHIN
        return self.request(FILL_SEVERITY, received)

    async def _start_case(self, request: CaseRequest) -> str:
        loaded = self.stack.loaded_policy(request.tenant, datetime.now(UTC).year)
        return (await start_case(self.stack.client, request, loaded)).case_id

    async def _post(self, request: CaseRequest) -> str:
        answer = await self.http.post(
            f"{self.stack.gateway_url}/v1/cases", json=request.model_dump(mode="json", exclude_none=True)
        )
        if answer.status_code != 201:
            raise RuntimeError(f"POST /v1/cases answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()["case_id"]

    async def open_fill(self) -> None:
        await self._start_case(self.fill_request())

    async def open_timed(self, deadline: float) -> str:
        received = datetime.fromtimestamp(deadline, UTC) - timedelta(hours=TIMED_RESPONSE_HOURS)
        return await self._start_case(self.request(TIMED_SEVERITY, received))

    def burst_call(self, path: str) -> Callable[[], Awaitable[object]]:
        if path == "gateway":
            return lambda: self._post(self.fill_request())
        return self.open_fill

    @staticmethod
    def workflow_id(item: str) -> str:
        return item

    def lag(self) -> int:
        """Cases opened whose acknowledgement email has not reached the SMTP receiver yet."""
        return self.opened - self.stack.smtp.count

    async def acted(self, items: Sequence[str], until: float) -> list[float | None]:
        """When each timed case's first breach page reached the webhook receiver (epoch seconds)."""
        found = await self.arrivals.wait_for(items, "response_breach", 1, until=until, healthy=self.stack.healthy)
        return [found.get(case_id) for case_id in items]
