"""Driving load and reading what came back: bounded concurrency, deadlines in one window, webhook arrivals."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def each(items: Sequence[T], call: Callable[[T], Awaitable[R]], concurrency: int) -> list[R]:
    """`call` on every item, at most `concurrency` at a time; results in item order."""
    results: list[Any] = [None] * len(items)
    queue = iter(enumerate(items))

    async def lane() -> None:
        for index, item in queue:
            results[index] = await call(item)

    try:
        async with asyncio.TaskGroup() as lanes:  # the first failure cancels the other lanes
            for _ in range(min(concurrency, len(items))):
                lanes.create_task(lane())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return results


async def timed_each(items: Sequence[T], call: Callable[[T], Awaitable[R]], concurrency: int) -> tuple[list[R], float]:
    started = time.monotonic()
    results = await each(items, call, concurrency)
    return results, time.monotonic() - started


async def sleep_until(epoch: float) -> None:
    await asyncio.sleep(max(0.0, epoch - time.time()))


def deadlines(count: int, window_start: float, spread: float, seed: int) -> list[float]:
    """`count` deadlines spread evenly over [window_start, window_start + spread), in a shuffled order,
    so the order things were started in says nothing about which is due first."""
    step = spread / count if count else 0.0
    moments = [window_start + i * step for i in range(count)]
    random.Random(seed).shuffle(moments)
    return moments


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Lateness:
    p50: float
    p99: float
    max: float
    measured: int
    missing: int

    @classmethod
    def of(cls, late: Sequence[float], expected: int) -> Lateness:
        return cls(
            percentile(late, 0.5), percentile(late, 0.99), max(late, default=math.nan), len(late), expected - len(late)
        )


@dataclass
class Arrivals:
    """The first arrival (epoch seconds) of each (case id, ladder, step) at the webhook receiver.

    Deliveries carry the contract's idempotency key,
    `<case_id>:<ladder>:<run>:<round>:<step>:<contact>:<channel>`, which says what each one is.
    """

    requests: list  # the receiver's own list, read incrementally
    first: dict[tuple[str, str, int], float] = field(default_factory=dict)
    _read: int = 0

    def refresh(self) -> None:
        while self._read < len(self.requests):
            request = self.requests[self._read]
            self._read += 1
            key = request.headers.get("idempotency-key", "")
            parts = key.split(":")
            if len(parts) != 7:
                continue
            what = (parts[0], parts[1], int(parts[4]))
            self.first.setdefault(what, request.received_at.timestamp())

    def of(self, case_ids: Sequence[str], ladder: str, step: int) -> dict[str, float]:
        self.refresh()
        return {
            case_id: self.first[(case_id, ladder, step)]
            for case_id in case_ids
            if (case_id, ladder, step) in self.first
        }

    async def wait_for(
        self, case_ids: Sequence[str], ladder: str, step: int, until: float, healthy: Callable[[], None] = lambda: None
    ) -> dict[str, float]:
        """Every case's first (ladder, step) delivery, or as many as arrived by `until` (epoch seconds).
        `healthy` raises to stop waiting for deliveries that will never come."""
        while True:
            found = self.of(case_ids, ladder, step)
            if len(found) == len(case_ids) or time.time() >= until:
                return found
            healthy()
            await asyncio.sleep(0.25)
