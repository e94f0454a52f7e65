"""One level of a scale run on one side: open up to the level, time the intake, then two windows of deadlines.

Order: the fill (paced, with the timed items at random places in it), the
intake bursts, the cached batch, then the evicted window (deadlines of
items opened at random during the fill, long since pushed out of the
worker's cache) and the cached window (items opened just before it).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.load import Lateness, deadlines, each, sleep_until
from bench.phase import Accounting, Result
from bench.scale.breakdown import Breakdown, breakdown
from bench.scale.plan import ScalePlan

LAG_POLL = 0.2


@dataclass
class Window:
    lateness: Lateness
    cpu: dict[str, float]  # net CPU seconds per deadline, by process
    cache_misses: float | None = None  # workflow tasks that found their workflow evicted, during the window
    ids: list[str] = field(default_factory=list)  # the timed items' workflow ids, with their deadlines and when
    due: list[float] = field(default_factory=list)  # each was acted on: read back by `breakdown` afterwards
    acted: list[float | None] = field(default_factory=list)
    breakdown: Breakdown | None = None


@dataclass
class LevelResult:
    level: int
    fill_rate: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)  # per intake path, items/s at full concurrency
    burst_cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # path -> process -> CPU s per open
    evicted: Window | None = None
    cached: Window | None = None
    notes: list[str] = field(default_factory=list)


async def paced(calls: list[Callable[[], Awaitable[object]]], concurrency: int, lag: Callable[[], int], max_lag: int):
    """Run every call, `concurrency` at a time, holding back while the worker lags more than `max_lag` behind."""

    async def one(call: Callable[[], Awaitable[object]]) -> object:
        while lag() > max_lag:
            await asyncio.sleep(LAG_POLL)
        return await call()

    return await each(calls, one, concurrency)


async def until_quiet(stack, patience: float, busy: float = 0.05) -> None:
    """Until the worker spends less than `busy` of a core over two seconds: the work its fill queued is done,
    so the idle rate measured next is idle (lag counts opens still waiting, not the work they started)."""
    give_up = time.monotonic() + patience
    mark = stack.cpu_mark()
    while time.monotonic() < give_up:
        await asyncio.sleep(2.0)
        later = stack.cpu_mark()
        if later.rates(mark).get("worker", 0.0) < busy:
            return
        mark = later


async def until_caught_up(lag: Callable[[], int], patience: float) -> int:
    give_up = time.monotonic() + patience
    while lag() > 0 and time.monotonic() < give_up:
        await asyncio.sleep(LAG_POLL)
    return lag()


def sticky_cache_misses(metrics_url: str | None) -> float | None:
    """The worker's `sticky_cache_miss` counter: workflow tasks for a workflow it no longer held (a replay)."""
    if not metrics_url:
        return None
    try:
        text = httpx.get(metrics_url, timeout=5).text
    except httpx.HTTPError:
        return None
    # The counter appears with its first miss: absent from an answer means none yet.
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if re.match(r"\w*sticky_cache_miss\b", line))


def window_opens(plan: ScalePlan, due: list[float]) -> float:
    """When a window's accounting begins: its idle rate, then the first early wake (workflows/alarm_clock.py),
    which is where an evicted case replays."""
    return min(due) - plan.wake_before - plan.idle_seconds * 1.5 - 1.0


async def window(side, plan: ScalePlan, items: list, due: list[float], metrics_url: str | None) -> Window:
    """Lateness and CPU per deadline for `items` due at `due`: CPU from just before the first deadline until
    every one was acted on and the work it started has settled."""
    await sleep_until(window_opens(plan, due))
    accounting = Accounting(side.stack)
    await accounting.begin(plan.idle_seconds)
    misses_before = sticky_cache_misses(metrics_url)
    acted = await side.acted(items, until=max(due) + plan.drain)
    late = [at - deadline for at, deadline in zip(acted, due) if at is not None]
    await asyncio.sleep(2.0)  # the page's delivery completes back into the workflow
    result = Result(len(items))
    accounting.end(result)
    misses_after = sticky_cache_misses(metrics_url)
    misses = None if misses_before is None or misses_after is None else misses_after - misses_before
    ids = [side.workflow_id(item) for item in items]
    return Window(Lateness.of(late, len(items)), result.cpu, misses, ids, list(due), acted)


async def grow(side, plan: ScalePlan, level: int, previous: int, metrics_url: str | None, log) -> LevelResult:
    result = LevelResult(level)
    rng = random.Random(plan.seed + level)
    fill = plan.fill(level, previous, len(side.paths))
    if fill < 0:
        raise ValueError(f"level {level}: fewer new items than the timed, cached and burst ones need")

    # The fill's sustained rate sets when the evicted window can open, so it is measured once the worker's
    # cache is full and its lag has built up: before that the fill runs faster than it will (at 10,000 the
    # rate of a first third that barely filled the cache was 58/s, the fill's 32/s, and intake overran the
    # window's start). The timed items go at random places in the rest of the fill.
    unmeasured = min(fill // 2, plan.cache + plan.max_lag)
    first = min(fill, max(fill // 3, unmeasured + 2 * plan.max_lag))
    await paced([side.open_fill] * unmeasured, plan.fill_concurrency, side.lag, plan.max_lag)
    started = time.monotonic()
    await paced([side.open_fill] * (first - unmeasured), plan.fill_concurrency, side.lag, plan.max_lag)
    rate = (first - unmeasured) / max(time.monotonic() - started, 1e-3)
    probe = first
    rest = fill - first
    remaining = rest + plan.timed + plan.cached + plan.burst * len(side.paths)
    settling = plan.settle * (len(side.paths) + 1)
    evicted_at = time.time() + remaining / rate * 1.25 + settling + plan.lead + plan.idle_seconds * 2 + plan.wake_before
    evicted_due = deadlines(plan.timed, evicted_at, plan.spread, plan.seed + level)
    cached_at = evicted_at + plan.spread + plan.drain + plan.idle_seconds * 2 + plan.wake_before + 5
    cached_due = deadlines(plan.cached, cached_at, plan.spread, plan.seed + level + 1)

    kinds = ["fill"] * rest + ["timed"] * plan.timed
    rng.shuffle(kinds)
    timed_items: list = []
    due_iter = iter(evicted_due)

    def call(kind: str) -> Callable[[], Awaitable[object]]:
        if kind == "fill":
            return side.open_fill
        deadline = next(due_iter)

        async def timed() -> None:
            timed_items.append((await side.open_timed(deadline), deadline))

        return timed

    log(
        f"{side.name} {level:,}: filling {rest + plan.timed:,} (about {rate:.0f}/s); evicted window in {evicted_at - time.time():.0f} s"
    )
    started = time.monotonic()
    await paced([call(kind) for kind in kinds], plan.fill_concurrency, side.lag, plan.max_lag)
    result.fill_rate = (probe + rest + plan.timed) / (time.monotonic() - started + probe / rate)

    for path in side.paths:
        await until_caught_up(side.lag, plan.drain)
        await until_quiet(side.stack, plan.drain)
        accounting = Accounting(side.stack)
        await accounting.begin(plan.idle_seconds)
        opened = time.monotonic()
        await each([side.burst_call(path)] * plan.burst, lambda open_one: open_one(), plan.concurrency)
        result.rates[path] = plan.burst / (time.monotonic() - opened)
        spent = Result(plan.burst)
        accounting.end(spent)
        result.burst_cpu[path] = spent.cpu

    cached_items = await each(cached_due, side.open_timed, plan.fill_concurrency)
    behind = await until_caught_up(side.lag, max(5.0, evicted_at - time.time() - plan.idle_seconds * 2))
    await until_quiet(side.stack, max(5.0, evicted_at - time.time() - plan.wake_before - plan.idle_seconds * 2))
    if behind:
        result.notes.append(f"{side.name} {level:,}: the worker was {behind} opens behind when the evicted window came")
    late = time.time() - window_opens(plan, evicted_due)
    if late > 0:
        result.notes.append(
            f"{side.name} {level:,}: intake overran the lead by {late:.0f} s: the evicted window's CPU and "
            "cache misses miss its first early wakes, and its idle rate counts some"
        )

    items = [item for item, _ in timed_items]
    due = [deadline for _, deadline in timed_items]
    log(f"{side.name} {level:,}: evicted window ({len(items)} deadlines over {plan.spread:g} s)")
    result.evicted = await window(side, plan, items, due, metrics_url)
    log(f"{side.name} {level:,}: cached window ({len(cached_items)} deadlines)")
    result.cached = await window(side, plan, cached_items, cached_due, metrics_url)
    for timed in (result.evicted, result.cached):  # after both windows: reading histories loads the server
        timed.breakdown = await breakdown(side.stack.client, timed.ids, timed.due, timed.acted)
    return result
