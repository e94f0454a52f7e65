"""The worker's garbage collection: the cheap collections as usual, the full one when the worker is idle.

A cached case is about 600 Python objects that the cyclic garbage
collector tracks. CPython's full collection walks every one of them, and
it runs whenever a quarter as many objects again have survived since the
last one. With 2,000 cases cached, measured (docs/benchmarks.md, "The
evicted tail was the garbage collector"), that was a pause of 1.2 to 2.1 s
every 12 s while evicted cases replayed: every workflow task in flight
waited, and a case that armed its deadline's timer in one of them
breached that much later. With the default cache of 10,000 it was 3.3 s
over 6 million objects, longer than the SDK's 2 s deadlock check, which
failed the workflow tasks it caught (they are retried).

So once a second the collector walks only what is new since the last
second (about 10 ms under that load), and freezes what survived
(`gc.freeze()`), which no collection walks again. A frozen object that
later becomes garbage in a cycle (a case evicted from the cache, or
finished) waits for a real full collection, which walks everything. That
one runs while the worker is idle, or, when the worker is never idle,
once the heap has doubled since the last one, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from dataclasses import dataclass

log = logging.getLogger("supportflow.worker.gc")

CHECK_EVERY = 1.0  # seconds
IDLE_SHARE = 0.05  # of one core, over the last check: nothing is waiting for this process
GROWTH_WHEN_IDLE = 1.25  # CPython's own rule for a full collection: a quarter more since the last one
GROWTH_CAP = 2.0  # collected now even when busy: frozen garbage at most doubles the heap
STALL = 0.25  # seconds a check may wake late before the worker logs it


@dataclass
class FullCollection:
    seconds: float
    collected: int
    heap: int  # the Python heap's allocated blocks after it
    forced: bool  # the worker was busy, but the heap had doubled


class IdleCollector:
    def __init__(
        self,
        check_every: float = CHECK_EVERY,
        idle_share: float = IDLE_SHARE,
        growth_when_idle: float = GROWTH_WHEN_IDLE,
        growth_cap: float = GROWTH_CAP,
    ) -> None:
        self.check_every = check_every
        self.idle_share = idle_share
        self.growth_when_idle = growth_when_idle
        self.growth_cap = growth_cap
        self.baseline = 0  # the Python heap's allocated blocks after the last real full collection
        self.last: FullCollection | None = None

    def start(self) -> None:
        """Collect everything once and freeze what is left: the worker's modules and its warm-up."""
        self.collect_fully(forced=False)

    def stop(self) -> None:
        """Hand every frozen object back to the collector, as at the start."""
        gc.unfreeze()

    def check(self, busy_share: float) -> FullCollection | None:
        """Once per interval: collect and freeze what is newer than the last freeze, then collect fully if due."""
        gc.collect()  # walks only the unfrozen objects: those made since the last check
        gc.freeze()
        heap = sys.getallocatedblocks()  # not gc.get_freeze_count(): that walks every frozen object
        if heap >= self.baseline * self.growth_cap:
            return self.collect_fully(forced=busy_share >= self.idle_share)
        if busy_share < self.idle_share and heap >= self.baseline * self.growth_when_idle:
            return self.collect_fully(forced=False)
        return None

    def collect_fully(self, forced: bool) -> FullCollection:
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self.baseline = sys.getallocatedblocks()
        self.last = FullCollection(time.perf_counter() - started, collected, self.baseline, forced)
        log.info(
            "full garbage collection%s: %.0f ms, %d objects collected, %d heap blocks kept",
            " (forced: busy, but the heap had doubled)" if forced else " while idle",
            self.last.seconds * 1000,
            collected,
            self.baseline,
        )
        return self.last

    async def run(self) -> None:
        """Check every `check_every` seconds, measuring how busy this process was in between by its CPU time.

        A check that wakes late means the interpreter was held that long (a collection, or Python that
        does not yield); workflow tasks in flight waited too. It is logged, so a late deadline can be
        matched to the moment."""
        self.start()
        try:
            cpu, wall = time.process_time(), time.monotonic()
            while True:
                await asyncio.sleep(self.check_every)
                now_cpu, now_wall = time.process_time(), time.monotonic()
                late = now_wall - wall - self.check_every
                if late > STALL:
                    log.info("the worker's event loop ran %.0f ms late: its Python was held", late * 1000)
                self.check((now_cpu - cpu) / max(now_wall - wall, 1e-6))
                cpu, wall = time.process_time(), time.monotonic()
        finally:
            self.stop()
