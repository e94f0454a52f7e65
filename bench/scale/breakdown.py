"""Where a window's lateness went, read back from each timed item's history after the windows.

A deadline is late by the sum of five parts, each between two moments the
server recorded (or, for the last, the page's arrival):

- **armed**: from the start of the task that armed the deadline's timer to
  the timer's start. The timer is asked for at `workflow.now()` (the task's
  start) but starts when the server records the task's completion. For a
  case this is the early wake (the replay of an evicted case,
  workflows/alarm_clock.py); for the floor, its first task.
- **timer**: the server fired the timer that much after it was due.
- **queued**: from the timer firing to the worker starting the next task.
- **task**: that task, which schedules the page.
- **page**: from that task's completion to the page's arrival (the
  receiver's clock for a case, the activity's own start for the floor).

The fifth run's probe (docs/benchmarks.md) found its tail this way by hand;
the bench now prints it at every level, so a stall says where it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench.load import each, percentile

PARTS = ("armed", "timer", "queued", "task", "page")
TAIL = 0.01  # the worst share of deadlines whose parts are averaged
FETCH_CONCURRENCY = 16


@dataclass
class Breakdown:
    parts: dict[str, list[float]] = field(default_factory=lambda: {part: [] for part in PARTS})
    tail: dict[str, float] = field(default_factory=dict)  # mean of each part over the latest TAIL of deadlines
    read: int = 0
    residual: float = 0.0  # the largest |lateness - sum of its parts|: the parts account for the whole

    def p(self, part: str, q: float) -> float:
        return percentile(self.parts[part], q)


def _at(event: HistoryEvent) -> float:
    return event.event_time.ToDatetime().timestamp()


def _planned_fire(event: HistoryEvent) -> float:
    return _at(event) + event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()


def parts_of(events: Sequence[HistoryEvent], deadline: float, arrival: float) -> dict[str, float] | None:
    """The five parts for the timer nearest `deadline`; None when the history holds no such timer acted on."""
    by_id = {event.event_id: event for event in events}
    by_type: dict[int, list[HistoryEvent]] = defaultdict(list)
    for event in events:
        by_type[event.event_type].append(event)
    timers = by_type[EventType.EVENT_TYPE_TIMER_STARTED]
    if not timers:
        return None
    timer = min(timers, key=lambda event: abs(_planned_fire(event) - deadline))
    fired = {
        event.timer_fired_event_attributes.started_event_id: event
        for event in by_type[EventType.EVENT_TYPE_TIMER_FIRED]
    }
    completed = {
        event.workflow_task_completed_event_attributes.started_event_id: event
        for event in by_type[EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    }
    if timer.event_id not in fired:
        return None
    timer_fired = fired[timer.event_id]
    arming = by_id[timer.timer_started_event_attributes.workflow_task_completed_event_id]
    arming_started = by_id[arming.workflow_task_completed_event_attributes.started_event_id]
    # The task the firing woke: the first to start after it, once it completed.
    woken = next(
        (
            event
            for event in by_type[EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
            if event.event_id > timer_fired.event_id and event.event_id in completed
        ),
        None,
    )
    if woken is None:
        return None
    return {
        "armed": _at(timer) - _at(arming_started),
        "timer": _at(timer_fired) - _planned_fire(timer),
        "queued": _at(woken) - _at(timer_fired),
        "task": _at(completed[woken.event_id]) - _at(woken),
        "page": arrival - _at(completed[woken.event_id]),
    }


async def breakdown(
    client: Client, ids: Sequence[str], due: Sequence[float], acted: Sequence[float | None]
) -> Breakdown:
    """The parts of every acted-on item's lateness, from its history."""

    async def one(item: tuple[str, float, float]) -> tuple[float, dict[str, float]] | None:
        workflow_id, deadline, arrival = item
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        parts = parts_of(history.events, deadline, arrival)
        return None if parts is None else (arrival - deadline, parts)

    acted_on = [(workflow_id, deadline, at) for workflow_id, deadline, at in zip(ids, due, acted) if at is not None]
    late = [found for found in await each(acted_on, one, FETCH_CONCURRENCY) if found is not None]
    result = Breakdown(read=len(late))
    for lateness, parts in late:
        for part, seconds in parts.items():
            result.parts[part].append(seconds)
        result.residual = max(result.residual, abs(lateness - sum(parts.values())))
    worst = sorted(late, key=lambda entry: entry[0], reverse=True)[: max(1, round(len(late) * TAIL))]
    if worst:
        result.tail = {part: sum(parts[part] for _, parts in worst) / len(worst) for part in PARTS}
    return result
