"""What the floor run and the case run share: the plan, the CPU accounting, and the result."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType

from bench.load import Lateness
from bench.procstat import CpuMark
from bench.stack import Stack


@dataclass(frozen=True)
class Plan:
    cases: int = 1000
    concurrency: int = 48
    lead: float = 200.0  # seconds from the (estimated) end of intake to the first deadline
    floor_lead: float = 30.0  # the floor has no warnings to get out of the way first
    spread: float = 60.0  # every deadline falls in one window this long: "the same minute"
    warmup: int = 10
    idle_seconds: float = 10.0
    drain: float = 120.0  # how long after the window a late delivery is still waited for
    # Sev 1 (30 min): each warning fires from its own timer 3 minutes before its deadline, during the lead,
    # so the warnings' deliveries are done before the breach window opens and do not pollute its lateness.
    warn_at: float = 0.9
    first_breach_wait: str = "2m"  # step 2 follows step 1 after the whole window has drained
    seed: int = 20270108


@dataclass
class Result:
    """One run's figures. CPU is per item, net of the processes' idle rate over the same wall time."""

    count: int
    rates: dict[str, float] = field(default_factory=dict)  # items started per second, by path
    lateness: Lateness | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # net CPU seconds per item, by process
    gross_cpu: dict[str, float] = field(default_factory=dict)
    idle: dict[str, float] = field(default_factory=dict)  # CPU seconds per second while idle, by process
    rss_per_1000: float = math.nan  # bytes
    history_events: int = 0
    history_types: dict[str, int] = field(default_factory=dict)  # event type -> count, for the representative lifecycle
    history_sequence: list[str] = field(default_factory=list)  # its events in order; upserts name their attributes
    wall: float = 0.0
    notes: list[str] = field(default_factory=list)


IDLE_WINDOWS = 5


def median_of(results: list[Result]) -> Result:
    """One Result from several rounds: the median of every figure, so one noisy round does not decide a verdict."""
    if len(results) == 1:
        return results[0]

    def per_key(dicts: list[dict[str, float]]) -> dict[str, float]:
        return {key: statistics.median(d[key] for d in dicts if key in d) for key in dicts[0]}

    lateness = [r.lateness for r in results if r.lateness is not None]
    return Result(
        count=results[0].count,
        rates=per_key([r.rates for r in results]),
        lateness=Lateness(
            p50=statistics.median(late.p50 for late in lateness),
            p99=statistics.median(late.p99 for late in lateness),
            max=statistics.median(late.max for late in lateness),
            measured=sum(late.measured for late in lateness),
            missing=sum(late.missing for late in lateness),
        ),
        cpu=per_key([r.cpu for r in results]),
        gross_cpu=per_key([r.gross_cpu for r in results]),
        idle=per_key([r.idle for r in results]),
        rss_per_1000=statistics.median(r.rss_per_1000 for r in results),
        history_events=results[0].history_events,
        history_types=results[0].history_types,
        history_sequence=results[0].history_sequence,
        wall=sum(r.wall for r in results),
        notes=[f"round {i + 1}: {note}" for i, r in enumerate(results) for note in r.notes],
    )


def count_events(result: Result, history) -> None:
    """The representative lifecycle's history: how many events, and of which types."""
    result.history_events = len(history.events)
    types = Counter(EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events)
    result.history_types = dict(types.most_common())
    result.history_sequence = [_described(event) for event in history.events]


def _described(event) -> str:
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.HasField("upsert_workflow_search_attributes_event_attributes"):
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        return f"{name} {','.join(sorted(fields))}"
    if event.HasField("marker_recorded_event_attributes"):
        return f"{name} {event.marker_recorded_event_attributes.marker_name}"
    return name


class Accounting:
    """CPU spent by every measured process from `begin` to `end`, minus what they spend idle.

    The idle rate (the dev server's own housekeeping, pollers waiting) is
    measured just before the run, with every process up, as the lowest rate
    in five windows (a warm-up's last tasks must not count as idle), and
    charged back over the run's wall time, so a longer run is not billed for
    sitting still.
    """

    def __init__(self, stack: Stack):
        self.stack = stack
        self.idle: dict[str, float] = {}
        self.start: CpuMark | None = None

    async def begin(self, idle_seconds: float) -> None:
        """Let the warm-up's tail settle, then take the lowest rate seen in five windows as each process's idle rate."""
        await asyncio.sleep(idle_seconds / 2)
        windows: list[dict[str, float]] = []
        mark = self.stack.cpu_mark()
        for _ in range(IDLE_WINDOWS):
            await asyncio.sleep(idle_seconds / IDLE_WINDOWS)
            later = self.stack.cpu_mark()
            windows.append(later.rates(mark))
            mark = later
        self.start = mark
        self.idle = {name: min(window[name] for window in windows) for name in mark.seconds}

    def end(self, result: Result) -> None:
        finish = self.stack.cpu_mark()
        wall = finish.at - self.start.at
        spent = finish.minus(self.start)
        result.wall = wall
        result.idle = dict(self.idle)
        result.gross_cpu = {name: seconds / result.count for name, seconds in spent.items()}
        result.cpu = {
            name: (seconds - self.idle.get(name, 0.0) * wall) / result.count for name, seconds in spent.items()
        }
