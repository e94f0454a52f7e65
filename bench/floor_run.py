"""The floor run: N bare workflows started, sleeping to deadlines in one window, each then running one no-op activity."""

from __future__ import annotations

import asyncio
import time
import uuid

from temporalio.client import WorkflowHandle

from bench.floor import FLOOR_WORKFLOW
from bench.load import Lateness, deadlines, each, sleep_until, timed_each
from bench.phase import Accounting, Plan, Result, count_events
from bench.stack import FLOOR_QUEUE, Stack

# Before anything is measured, the guess for how fast starts go; only the lead before the first deadline depends on it.
START_RATE_GUESS = 100.0


async def run_floor(stack: Stack, plan: Plan) -> Result:
    client = stack.client
    await stack.start_worker(FLOOR_QUEUE, floor=True)

    async def start(deadline: float) -> WorkflowHandle:
        return await client.start_workflow(
            FLOOR_WORKFLOW, deadline, id=f"floor-{uuid.uuid4().hex}", task_queue=FLOOR_QUEUE, result_type=float
        )

    # Warm-up, not measured: the worker's first tasks import and build what every later one reuses.
    warm = await each([time.time() + 1.0] * plan.warmup, start, plan.concurrency)
    await each(warm, lambda handle: handle.result(), plan.concurrency)

    result = Result(plan.cases)
    accounting = Accounting(stack)
    await accounting.begin(plan.idle_seconds)
    rss_before = stack.rss("worker")

    window = time.time() + plan.cases / START_RATE_GUESS + plan.floor_lead
    due = deadlines(plan.cases, window, plan.spread, plan.seed)
    handles, took = await timed_each(due, start, plan.concurrency)
    result.rates["direct"] = plan.cases / took
    if time.time() > window:
        result.notes.append(f"floor intake overran the lead by {time.time() - window:.1f} s")

    await sleep_until(window - 2.0)
    result.rss_per_1000 = (stack.rss("worker") - rss_before) / plan.cases * 1000

    await sleep_until(window + plan.spread)
    give_up = window + plan.spread + plan.drain

    async def activity_started(handle: WorkflowHandle) -> float | None:
        try:
            return await asyncio.wait_for(handle.result(), max(1.0, give_up - time.time()))
        except TimeoutError:
            return None

    started = await each(handles, activity_started, plan.concurrency)
    late = [at - deadline for at, deadline in zip(started, due) if at is not None]
    result.lateness = Lateness.of(late, plan.cases)
    accounting.end(result)

    history = await handles[0].fetch_history()
    count_events(result, history)
    await stack.stop_child("worker")
    return result
