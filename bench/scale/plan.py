"""What one scale run does: the levels, and at each level how many items are timed, cached and burst."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.alarm_clock import WAKE_BEFORE

DEFAULT_LEVELS = (10_000, 50_000)
# Every level is larger than the cache, so a case chosen at random has been evicted when its deadline comes;
# the cache still holds the cached batch (opened last) and the evicted window's cases together.
DEFAULT_CACHE = 2_000


@dataclass(frozen=True)
class ScalePlan:
    levels: tuple[int, ...] = DEFAULT_LEVELS
    cache: int = DEFAULT_CACHE
    timed: int = 1_000  # deadlines in the evicted window, on cases chosen at random among a level's new ones
    cached: int = 200  # deadlines in the cached window, on cases opened just before it
    burst: int = 1_000  # opens per intake path timed at full concurrency, per level
    spread: float = 60.0  # each window's deadlines fall in this many seconds
    lead: float = 30.0  # from the estimated end of intake to the evicted window
    # Each burst and the cached batch end with the worker catching up and going quiet, often with a full
    # garbage collection on the way (2 to 3 s at a 2,000 cache): time the fill's rate does not count. Without
    # it intake overran the evicted window's start by about 25 s at every 10,000 level.
    settle: float = 20.0
    drain: float = 60.0  # how long after a window a late breach is still waited for
    idle_seconds: float = 10.0
    # A case wakes this early for a deadline more than twice as far ahead (workflows/alarm_clock.py): windows
    # open no sooner, and their CPU is counted from the wake. The smoke run's deadlines are too near to wake.
    wake_before: float = WAKE_BEFORE.total_seconds()
    concurrency: int = 48  # requests in flight in a burst
    fill_concurrency: int = 16  # in flight while filling: a rate the worker keeps up with
    max_lag: int = 400  # opened cases not yet acknowledged by the worker before the fill waits
    reads: int = 50  # list requests per level
    cli_reads: int = 10  # `case list` runs per level
    seed: int = 20270108

    def new_items(self, level: int, previous: int) -> int:
        return level - previous

    def fill(self, level: int, previous: int, paths: int) -> int:
        """Items opened by the paced fill: the level's new items less the timed, cached and burst ones."""
        return self.new_items(level, previous) - self.timed - self.cached - self.burst * paths


QUICK = dict(
    levels=(100, 200),
    cache=30,
    timed=20,
    cached=5,
    burst=20,
    spread=3.0,
    lead=3.0,
    settle=1.0,
    drain=6.0,
    idle_seconds=1.0,
    wake_before=0.0,
    reads=5,
    cli_reads=1,
)
