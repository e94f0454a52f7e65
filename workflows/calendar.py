"""Business-time arithmetic on a support team's calendar.

Pure and deterministic: no clock, no I/O. The workflow imports this module
through `imports_passed_through()` so that zones built here are real
`ZoneInfo` objects (the sandbox's proxies are rejected by `astimezone`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
ONE_DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
# A business calendar with any open hour at all reaches one within a week
# (plus holidays); this bounds the search when holidays swallow everything.
MAX_DAYS_SEARCHED = 3 * 366

Interval = tuple[datetime, datetime]


class HolidaysNotKnown(LookupError):
    """The calendar was asked about a day past the years its holidays were expanded for."""

    def __init__(self, day: date):
        super().__init__(f"holidays are only known up to an earlier year than {day.isoformat()}")
        self.year = day.year


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_instant(local_day: date, minute: int, tz: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant: fold=0, and a time inside a
    spring-forward gap moves to the end of the gap."""
    if minute == MINUTES_PER_DAY:
        naive = datetime.combine(local_day + ONE_DAY, time(0))
    else:
        naive = datetime.combine(local_day, time(minute // 60, minute % 60))
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # In a gap: the gap's end is the transition, which lies between the
    # readings under the offset after (fold=1) and before (fold=0).
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = instant
    offset_after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@dataclass(eq=False)
class BusinessCalendar:
    """Open hours per weekday (0 = Monday) as minute ranges, in one time zone,
    closed on the given holiday dates.

    `holidays_known_until` is the last day whose holidays were expanded; asking
    about a later day raises `HolidaysNotKnown` rather than guessing."""

    timezone: str
    weekly: Mapping[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[date] = frozenset()
    holidays_known_until: date | None = None
    _days: dict[date, tuple[Interval, ...]] = field(default_factory=dict, repr=False)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def open_intervals(self, day: date) -> tuple[Interval, ...]:
        """The UTC instants a local date is open, in order."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        if self.holidays_known_until is not None and day > self.holidays_known_until:
            raise HolidaysNotKnown(day)
        ranges = () if day in self.holidays else self.weekly.get(day.weekday(), ())
        intervals: tuple[Interval, ...] = ()
        if ranges:
            tz = self.tz
            midnight = datetime.combine(day, time(0))
            offset = midnight.replace(tzinfo=tz).utcoffset()
            if offset is not None and offset == (midnight + ONE_DAY).replace(tzinfo=tz).utcoffset():
                # No clock change today (almost every day): one offset serves every hour.
                base = (midnight - offset).replace(tzinfo=UTC)
                intervals = tuple((base + MINUTE * start, base + MINUTE * end) for start, end in ranges)
            else:
                instants = ((to_instant(day, start, tz), to_instant(day, end, tz)) for start, end in ranges)
                # Hours wholly inside a spring-forward gap collapse to nothing: not an opening.
                intervals = tuple((opens, closes) for opens, closes in instants if opens < closes)
        self._days[day] = intervals
        return intervals

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def add(self, start: datetime, span: timedelta) -> datetime:
        """`start` plus `span` of open time. A start outside open hours begins at
        the next opening; a result exactly at a closing time stays there."""
        if span < timedelta(0):
            raise ValueError("cannot add a negative business duration")
        # Arithmetic on a zone-aware datetime is wall-clock arithmetic; count in UTC.
        start = start.astimezone(UTC)
        remaining = span
        day = self.local_day(start)
        # A closing time at 24:00 belongs to the day before `start`'s local day.
        if not span and any(closes == start for _, closes in self.open_intervals(day - ONE_DAY)):
            return start.astimezone(self.tz)
        for _ in range(MAX_DAYS_SEARCHED):
            for opens, closes in self.open_intervals(day):
                if start > closes:
                    continue
                begin = max(start, opens)
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.tz)
                remaining -= available
            day += ONE_DAY
        raise ValueError(f"the calendar has no open hours within {MAX_DAYS_SEARCHED} days of {start.isoformat()}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time inside [start, end]."""
        total = timedelta(0)
        if end <= start:
            return total
        # Same-zone subtraction ignores the offset change; count in UTC.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        day, last_day = self.local_day(start), self.local_day(end)
        while day <= last_day:
            for opens, closes in self.open_intervals(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta(0):
                    total += overlap
            day += ONE_DAY
        return total

    def is_open(self, instant: datetime) -> bool:
        return any(opens <= instant < closes for opens, closes in self.open_intervals(self.local_day(instant)))


def parse_hours(text: str) -> tuple[int, int]:
    """`HH:MM-HH:MM` as minutes after local midnight; `24:00` may end a range."""
    try:
        start_text, end_text = text.split("-")
        start, end = _minute_of_day(start_text), _minute_of_day(end_text)
    except ValueError:
        raise ValueError(f"{text!r} is not a range like 09:00-17:00") from None
    if start == MINUTES_PER_DAY:
        raise ValueError(f"{text!r}: a range cannot start at 24:00")
    if start >= end:
        raise ValueError(f"{text!r}: the start must be before the end (split overnight cover across two days)")
    return start, end


def _minute_of_day(text: str) -> int:
    hours, minutes = text.strip().split(":")
    if len(hours) != 2 or len(minutes) != 2:
        raise ValueError(text)
    h, m = int(hours), int(minutes)
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(text)
    return h * 60 + m


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted, with adjacent ranges joined; overlapping ranges are an error."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start < merged[-1][1]:
            raise ValueError(f"{_hhmm(start)}-{_hhmm(end)} overlaps {_hhmm(merged[-1][0])}-{_hhmm(merged[-1][1])}")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
