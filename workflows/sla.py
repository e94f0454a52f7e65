"""SLA clocks: when a target falls due, counting only the clock's own time and
skipping paused spans. Pure functions shared by the workflow and the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workflows.calendar import BusinessCalendar
from workflows.policy import ClockKind, Severity, Target

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class SlaClock:
    """A `24x7` clock counts elapsed time; a `business` clock counts the calendar's open hours."""

    kind: ClockKind
    calendar: BusinessCalendar

    def add(self, start: datetime, span: timedelta) -> datetime:
        if self.kind == "24x7":
            # Elapsed time: add in UTC, since zone-aware addition is wall-clock addition.
            return (start.astimezone(UTC) + span).astimezone(self.calendar.tz)
        return self.calendar.add(start, span)

    def between(self, start: datetime, end: datetime) -> timedelta:
        if self.kind == "24x7":
            return max(end.astimezone(UTC) - start.astimezone(UTC), timedelta(0))
        return self.calendar.between(start, end)

    def due(self, start: datetime, span: timedelta, pauses: Iterable[Span] = ()) -> datetime:
        """The moment `span` of clock time has run since `start`, paused spans not counting."""
        remaining, cursor = span, start
        for paused_from, paused_until in merge_spans(pauses):
            if paused_until <= cursor:
                continue
            paused_from = max(paused_from, cursor)
            running = self.between(cursor, paused_from)
            if running >= remaining:
                return self.add(cursor, remaining)
            remaining -= running
            cursor = paused_until
        return self.add(cursor, remaining)

    def credit(self, pauses: Iterable[Span], until: datetime) -> timedelta:
        """Clock time inside the paused spans before `until`."""
        return sum((self.between(a, min(b, until)) for a, b in merge_spans(pauses) if a < until), timedelta(0))


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    # In UTC: same-zone comparisons ignore fold, which misorders the repeated fall-back hour.
    for start, end in sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def clock_for(target: Target, calendar: BusinessCalendar) -> SlaClock:
    return SlaClock(target.clock, calendar)


def target_due(
    target: Target, calendar: BusinessCalendar, start: datetime, pauses: Sequence[Span] = (), fraction: float = 1.0
) -> datetime:
    """When `fraction` of the target has run: 1.0 is the deadline, 0.75 a warning."""
    return clock_for(target, calendar).due(start, target.span * fraction, pauses)


@dataclass(frozen=True)
class Deadlines:
    response_due_at: datetime
    resolution_due_at: datetime | None
    emergency_due_at: datetime | None


def deadlines(
    severity: Severity,
    calendar: BusinessCalendar,
    received_at: datetime,
    resolution_pauses: Sequence[Span] = (),
    emergency_requested_at: datetime | None = None,
) -> Deadlines:
    """Every deadline a case would have; only the resolution clock pauses."""
    return Deadlines(
        response_due_at=target_due(severity.response, calendar, received_at),
        resolution_due_at=(
            target_due(severity.resolution, calendar, received_at, resolution_pauses) if severity.resolution else None
        ),
        emergency_due_at=(
            target_due(severity.emergency, calendar, emergency_requested_at)
            if severity.emergency and emergency_requested_at
            else None
        ),
    )
