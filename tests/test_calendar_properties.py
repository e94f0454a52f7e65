"""Properties of business-time arithmetic on random calendars.

Random time zones (all with daylight saving, some with odd rules: a 30-minute
shift on Lord Howe, transitions at local midnight in Santiago), random open
hours per weekday (lunch breaks, 24:00 ends, hours inside DST gaps), random
holidays, and start instants clustered around DST transitions as well as spread
over three years. Durations are whole minutes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.calendar import BusinessCalendar
from workflows.sla import SlaClock

ZONES = (
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Auckland",
)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
LAST = datetime(2028, 12, 31, tzinfo=UTC)
WINDOW_MINUTES = int((LAST - FIRST).total_seconds() // 60)
MINUTE = timedelta(minutes=1)
# Each calendar's weekly open time bounds how far durations reach, so searches
# stay well inside the years its holidays cover and the calendar's own search limit.
WEEKS_OF_WORK = 8

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _transitions(name: str) -> list[datetime]:
    """Every UTC instant in the window where the zone's offset changes (to the minute)."""
    tz = ZoneInfo(name)
    found: list[datetime] = []
    hour = timedelta(hours=1)
    t = FIRST
    before = t.astimezone(tz).utcoffset()
    while t < LAST:
        after = (t + hour).astimezone(tz).utcoffset()
        if after != before:
            low, high = t, t + hour
            while high - low > MINUTE:
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    break
                if middle.astimezone(tz).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            found.append(high)
        before = after
        t += hour
    return found


TRANSITIONS = {name: _transitions(name) for name in ZONES}


def test_every_zone_in_the_sample_has_daylight_saving_transitions():
    for name, moments in TRANSITIONS.items():
        assert len(moments) >= 4, name


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """0-3 disjoint ranges in one local day, on a half-hour grid or to the minute."""
    grid = draw(st.sampled_from([30, 30, 15, 1]))
    points = sorted(draw(st.sets(st.integers(0, 24 * 60 // grid), max_size=6)))
    points = [p * grid for p in points]
    if len(points) % 2:
        points = points[:-1]
    if points and draw(st.booleans()):
        points[-1] = 24 * 60  # cover until midnight, often followed by a closed day
    return tuple((points[i], points[i + 1]) for i in range(0, len(points), 2))


def _merged(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    name = draw(st.sampled_from(ZONES))
    weekly = {day: _merged(draw(day_hours())) for day in range(7)}
    weekly = {day: ranges for day, ranges in weekly.items() if ranges}
    if not weekly:
        weekly = {draw(st.integers(0, 6)): ((9 * 60, 17 * 60),)}
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2029, 6, 30)), max_size=15))
    # A few holidays right on the DST transition days, where they matter most.
    near = draw(st.frozensets(st.sampled_from([t.date() for t in TRANSITIONS[name]]), max_size=2))
    return BusinessCalendar(name, weekly, holidays | near)


def weekly_open_minutes(calendar: BusinessCalendar) -> int:
    return sum(end - start for ranges in calendar.weekly.values() for start, end in ranges)


@st.composite
def starts(draw: st.DrawFn, calendar: BusinessCalendar) -> datetime:
    """A whole-minute instant, written in UTC or in the calendar's zone: near a DST
    transition, anywhere in the window, or exactly at an opening or closing time."""
    kind = draw(st.sampled_from(["transition", "anywhere", "boundary"]))
    if kind == "transition":
        transition = draw(st.sampled_from(TRANSITIONS[calendar.timezone]))
        instant = transition + draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)) * MINUTE
    elif kind == "anywhere":
        instant = FIRST + draw(st.integers(0, WINDOW_MINUTES - 60 * 24 * 120)) * MINUTE
    else:
        near = draw(st.sampled_from(TRANSITIONS[calendar.timezone])) if draw(st.booleans()) else FIRST
        day = calendar.local_day(near) + timedelta(days=draw(st.integers(-3, 14)))
        boundaries = [moment for interval in calendar.open_intervals(day) for moment in interval]
        if not boundaries:
            boundaries = [near]
        instant = draw(st.sampled_from(boundaries))
    return instant.astimezone(calendar.tz) if draw(st.booleans()) else instant.astimezone(UTC)


def duration_cap(calendar: BusinessCalendar) -> int:
    return min(weekly_open_minutes(calendar) * WEEKS_OF_WORK, 20 * 24 * 60)


def durations(calendar: BusinessCalendar) -> st.SearchStrategy[timedelta]:
    cap = duration_cap(calendar)
    return st.one_of(st.just(0), st.integers(0, min(600, cap)), st.integers(0, cap)).map(lambda m: m * MINUTE)


def utc(moment: datetime) -> datetime:
    """Compare instants in UTC: PEP 495 makes `==` across zones false inside a repeated hour."""
    return moment.astimezone(UTC)


def containing_interval(calendar: BusinessCalendar, moment: datetime) -> tuple[datetime, datetime] | None:
    """An open interval with opens <= moment <= closes (a 24:00 close belongs to the day before)."""
    day = calendar.local_day(moment)
    for d in (day - timedelta(days=1), day):
        for opens, closes in calendar.open_intervals(d):
            if opens <= moment <= closes:
                return opens, closes
    return None


@PROPERTY_SETTINGS
@given(st.data())
def test_result_is_never_before_start(data: st.DataObject):
    calendar = data.draw(calendars())
    start = data.draw(starts(calendar))
    span = data.draw(durations(calendar))
    assert calendar.add(start, span) >= start


@PROPERTY_SETTINGS
@given(st.data())
def test_result_lies_in_an_open_interval_or_exactly_at_its_end(data: st.DataObject):
    calendar = data.draw(calendars())
    start = data.draw(starts(calendar))
    span = data.draw(durations(calendar))
    result = calendar.add(start, span)
    interval = containing_interval(calendar, result)
    assert interval is not None, (start, span, result)
    opens, closes = interval
    assert opens < closes
    if span:
        assert opens < result <= closes
    # Every result is a whole minute after some local opening or the start itself.
    assert result.second == 0 and result.microsecond == 0


@PROPERTY_SETTINGS
@given(st.data())
def test_add_zero_is_start_when_open_or_at_close_and_next_opening_otherwise(data: st.DataObject):
    calendar = data.draw(calendars())
    start = data.draw(starts(calendar))
    result = calendar.add(start, timedelta(0))
    if containing_interval(calendar, start) is not None:
        assert utc(result) == utc(start)
    else:
        assert result > start
        assert calendar.between(start, result) == timedelta(0)
        assert any(opens == utc(result) for opens, _ in calendar.open_intervals(calendar.local_day(result)))


@PROPERTY_SETTINGS
@given(st.data())
def test_adding_in_two_steps_equals_adding_once(data: st.DataObject):
    calendar = data.draw(calendars())
    start = data.draw(starts(calendar))
    first = data.draw(durations(calendar))
    second = data.draw(durations(calendar))
    assert utc(calendar.add(calendar.add(start, first), second)) == utc(calendar.add(start, first + second))


@PROPERTY_SETTINGS
@given(st.data())
def test_between_start_and_add_is_the_duration(data: st.DataObject):
    calendar = data.draw(calendars())
    start = data.draw(starts(calendar))
    span = data.draw(durations(calendar))
    assert calendar.between(start, calendar.add(start, span)) == span


@PROPERTY_SETTINGS
@given(st.data())
def test_between_is_additive_and_never_more_than_elapsed(data: st.DataObject):
    calendar = data.draw(calendars())
    a = data.draw(starts(calendar))
    # Step in UTC: `+` on a zone-aware datetime is wall-clock arithmetic and drops `fold`.
    b = utc(a) + data.draw(st.integers(0, 14 * 24 * 60)) * MINUTE
    c = b + data.draw(st.integers(0, 14 * 24 * 60)) * MINUTE
    b, c = b.astimezone(calendar.tz), c.astimezone(calendar.tz)
    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)
    assert timedelta(0) <= calendar.between(a, c) <= utc(c) - utc(a)


@PROPERTY_SETTINGS
@given(st.data())
def test_add_is_monotonic_in_the_duration(data: st.DataObject):
    calendar = data.draw(calendars())
    start = data.draw(starts(calendar))
    shorter = data.draw(durations(calendar))
    longer = shorter + data.draw(st.integers(1, max(1, min(600, duration_cap(calendar))))) * MINUTE
    assert calendar.add(start, shorter) < calendar.add(start, longer)


@PROPERTY_SETTINGS
@given(st.data())
def test_24x7_clock_is_plain_addition(data: st.DataObject):
    calendar = data.draw(calendars())
    clock = SlaClock("24x7", calendar)
    start = data.draw(starts(calendar))
    span = data.draw(st.integers(0, 30 * 24 * 60)) * MINUTE
    due = clock.add(start, span)
    assert utc(due) == utc(start) + span
    assert due.tzinfo == calendar.tz
    assert clock.between(start, due) == span


@PROPERTY_SETTINGS
@given(st.data())
def test_paused_deadline_runs_exactly_the_target_outside_the_pauses(data: st.DataObject):
    calendar = data.draw(calendars())
    clock = SlaClock(data.draw(st.sampled_from(["24x7", "business"])), calendar)
    start = data.draw(starts(calendar))
    span = data.draw(durations(calendar))
    pauses = []
    for _ in range(data.draw(st.integers(0, 3))):
        begin = utc(start) + data.draw(st.integers(0, 10 * 24 * 60)) * MINUTE
        pauses.append((begin, begin + data.draw(st.integers(0, 3 * 24 * 60)) * MINUTE))
    due = clock.due(start, span, pauses)
    assert due >= clock.add(start, span)
    # Clock time from start to the deadline, less the clock time paused before it, is the target.
    assert clock.between(start, due) - clock.credit(pauses, due) == span


@PROPERTY_SETTINGS
@given(st.data())
def test_results_do_not_depend_on_the_zone_the_start_is_written_in(data: st.DataObject):
    calendar = data.draw(calendars())
    start = utc(data.draw(starts(calendar)))
    span = data.draw(durations(calendar))
    local = start.astimezone(calendar.tz)
    assert utc(calendar.add(local, span)) == utc(calendar.add(start, span))
    end = start + data.draw(st.integers(0, 7 * 24 * 60)) * MINUTE
    assert calendar.between(local, end.astimezone(calendar.tz)) == calendar.between(start, end)
