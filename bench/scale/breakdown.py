"""Where a window's lateness went, read back from each timed item's history after the windows.

A deadline is late by the sum of five parts, each between two moments the
server recorded (or, for the last, the page's arrival):

- **armed**: the task that armed the deadline's timer ran that long. The
  timer is asked for at `workflow.now()` (the task's start) but starts when
  the task completes. For a case this is the early wake (the replay of an
  evicted case, workflows/alarm_clock.py); for the floor, its first task.
- **timer**: the server fired the timer that much after it was due.
- **queued**: from the timer firing to the worker starting the next task.
- **task**: that task, which schedules the page.
- **page**: from that task's completion to the page's arrival (the
  receiver's clock for a case, the activity's own start for the floor).

The fifth run's probe (docs/benchmarks.md) found its tail this way by hand;
the bench now prints it at every level, so a stall says where it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench.load import percentile

PARTS = ("armed", "timer", "queued", "task", "page")
TAIL = 0.01  # the worst share of deadlines whose parts are averaged
FETCH_CONCURRENCY = 16


@dataclass
class Breakdown:
    parts: dict[str, list[float]] = field(default_factory=lambda: {part: [] for part in PARTS})
    tail: dict[str, float] = field(default_factory=dict)  # mean of each part over the latest TAIL of deadlines
    arming_from_normal_queue: int = 0  # arming tasks the server sent with the whole history (not sticky)
    read: int = 0
    residual: float = 0.0  # the largest |lateness - sum of its parts|: the parts account for the whole

    def p(self, part: str, q: float) -> float:
        return percentile(self.parts[part], q)


def _at(event: HistoryEvent) -> float:
    return event.event_time.ToDatetime().timestamp()


def _planned_fire(event: HistoryEvent) -> float:
    return _at(event) + event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()


def parts_of(events: Sequence[HistoryEvent], deadline: float, arrival: float) -> tuple[dict[str, float], bool] | None:
    """The five parts for the timer nearest `deadline`, and whether its arming task came from the normal queue.
    None when the history holds no such timer (the item was not acted on)."""
    by_id = {event.event_id: event for event in events}
    timers = [event for event in events if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    if not timers:
        return None
    timer = min(timers, key=lambda event: abs(_planned_fire(event) - deadline))
    fired = next(
        (
            event
            for event in events
            if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
            and event.timer_fired_event_attributes.started_event_id == timer.event_id
        ),
        None,
    )
    if fired is None:
        return None
    arming = by_id[timer.timer_started_event_attributes.workflow_task_completed_event_id]
    arming_started = by_id[arming.workflow_task_completed_event_attributes.started_event_id]
    arming_scheduled = by_id[arming.workflow_task_completed_event_attributes.scheduled_event_id]
    next_started = next(
        (
            event
            for event in events
            if event.event_id > fired.event_id and event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
        ),
        None,
    )
    next_completed = next(
        (
            event
            for event in events
            if next_started is not None
            and event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            and event.workflow_task_completed_event_attributes.started_event_id == next_started.event_id
        ),
        None,
    )
    if next_started is None or next_completed is None:
        return None
    parts = {
        "armed": _at(arming) - _at(arming_started),
        "timer": _at(fired) - _planned_fire(timer),
        "queued": _at(next_started) - _at(fired),
        "task": _at(next_completed) - _at(next_started),
        "page": arrival - _at(next_completed),
    }
    kind = arming_scheduled.workflow_task_scheduled_event_attributes.task_queue.kind
    return parts, kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL


async def breakdown(
    client: Client, ids: Sequence[str], due: Sequence[float], acted: Sequence[float | None]
) -> Breakdown:
    """The parts of every acted-on item's lateness, from its history."""
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(workflow_id: str, deadline: float, arrival: float | None):
        if arrival is None:
            return None
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        found = parts_of(history.events, deadline, arrival)
        return None if found is None else (*found, arrival - deadline)

    result = Breakdown()
    late: list[tuple[float, dict[str, float]]] = []
    for item in await asyncio.gather(*(one(*item) for item in zip(ids, due, acted))):
        if item is None:
            continue
        parts, from_normal_queue, lateness = item
        result.read += 1
        result.arming_from_normal_queue += from_normal_queue
        for part, seconds in parts.items():
            result.parts[part].append(seconds)
        result.residual = max(result.residual, abs(lateness - sum(parts.values())))
        late.append((lateness, parts))
    late.sort(key=lambda entry: entry[0], reverse=True)
    worst = late[: max(1, round(len(late) * TAIL))]
    if worst:
        result.tail = {part: sum(parts[part] for _, parts in worst) / len(worst) for part in PARTS}
    return result
