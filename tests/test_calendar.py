"""One test per rule of DESIGN "SLA semantics (contract)" that lives in the pure
calendar / clock code (workflows/calendar.py, workflows/sla.py, the duration and
hours grammar, and policy loading). Rules that only the running workflow can
show (which update counts as a first response, when a breach is recorded, what
a workaround stops) are exercised by the workflow tests; here we pin down the
arithmetic they are built on.

America/Chicago and America/New_York change clocks on the same days in 2027:
spring forward Sun 2027-03-14 02:00, fall back Sun 2027-11-07 02:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tenant_policies import PolicyError, loaded_policy, parse_policy
from workflows.calendar import BusinessCalendar, HolidaysNotKnown, merge_ranges, parse_hours, to_instant
from workflows.durations import parse_duration
from workflows.policy import CalendarSpec, LoadedPolicy, Step, Target
from workflows.sla import SlaClock, deadlines, target_due

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"
CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")

H = timedelta(hours=1)
M = timedelta(minutes=1)
ZERO = timedelta(0)

ALL_WEEK = {day: ((0, 24 * 60),) for day in range(7)}
MON_FRI_9_17 = {day: ((9 * 60, 17 * 60),) for day in range(5)}
LUNCH = {day: ((9 * 60, 12 * 60), (13 * 60, 17 * 60)) for day in range(5)}


def chicago(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two instants, whatever their zones."""
    return end.astimezone(UTC) - start.astimezone(UTC)


@pytest.fixture
def policy_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(POLICIES))
    return POLICIES


@pytest.fixture
def blockit(policy_dir: Path) -> LoadedPolicy:
    return loaded_policy("blockit", 2027)


@pytest.fixture
def blockit_calendar(blockit: LoadedPolicy) -> BusinessCalendar:
    return blockit.business_calendar()


@pytest.fixture
def blub0x(policy_dir: Path) -> LoadedPolicy:
    return loaded_policy("blub0x", 2027)


def policy_text(**replace: str) -> str:
    """The shipped blockit policy with some top-level YAML blocks replaced."""
    text = (POLICIES / "blockit.yaml").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


# --- Clocks --------------------------------------------------------------------


def test_24x7_two_days_is_exactly_48_hours_across_spring_forward():
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 3, 13, 12, 0)  # Saturday, CST
    due = clock.add(start, parse_duration("2d"))
    assert elapsed(start, due) == timedelta(hours=48)
    assert due == chicago(2027, 3, 15, 13, 0)  # wall clock moved an hour
    assert due.tzinfo == CHICAGO


def test_24x7_two_days_is_exactly_48_hours_across_fall_back():
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 11, 6, 12, 0)  # Saturday, CDT
    due = clock.add(start, parse_duration("2d"))
    assert elapsed(start, due) == timedelta(hours=48)
    assert due == chicago(2027, 11, 8, 11, 0)


def test_ten_day_24x7_target_across_dst_change_is_exactly_240_hours():
    calendar = BusinessCalendar("America/Chicago", MON_FRI_9_17)
    target = Target(within="10d", clock="24x7")
    for start in (chicago(2027, 3, 10, 12, 0), chicago(2027, 11, 1, 12, 0)):
        for given in (start, start.astimezone(UTC)):  # the zone the start is written in does not matter
            due = target_due(target, calendar, given)
            assert elapsed(start, due) == timedelta(hours=240)


def test_24x7_between_is_elapsed_time_across_dst():
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    assert clock.between(chicago(2027, 3, 14, 0, 0), chicago(2027, 3, 15, 0, 0)) == timedelta(hours=23)
    assert clock.between(chicago(2027, 11, 7, 0, 0), chicago(2027, 11, 8, 0, 0)) == timedelta(hours=25)
    assert clock.between(chicago(2027, 11, 8), chicago(2027, 11, 7)) == ZERO


def test_business_clock_counts_open_hours_in_local_time_across_dst(blockit_calendar: BusinessCalendar):
    # Friday before spring forward: 16:30 CST + 1h business → Monday 09:30 CDT,
    # one real hour less in between than an ordinary weekend.
    start = chicago(2027, 3, 12, 16, 30)
    due = blockit_calendar.add(start, H)
    assert due == chicago(2027, 3, 15, 9, 30)
    assert due.utcoffset() == timedelta(hours=-5)
    assert elapsed(start, due) == timedelta(hours=64)


def test_business_clock_counts_only_open_hours(blockit_calendar: BusinessCalendar):
    # Mon 10:00 + 10h business: 7h Monday, 3h Tuesday.
    assert blockit_calendar.add(chicago(2027, 1, 11, 10, 0), 10 * H) == chicago(2027, 1, 12, 12, 0)


# --- Durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("1m", M),
        ("30m", 30 * M),
        ("4h", 4 * H),
        ("2d", timedelta(days=2)),
        ("240h", 240 * H),
        ("10d", timedelta(days=10)),
    ],
)
def test_duration_grammar_accepts_minutes_hours_days(text: str, span: timedelta):
    assert parse_duration(text) == span


@pytest.mark.parametrize(
    "text", ["", "h", "0h", "0d", "00m", "01h", "1.5h", "1w", "1s", "1H", "1 h", " 1h", "1h ", "-1h", "+1h", "1h30m", 5]
)
def test_duration_grammar_rejects_everything_else(text):
    with pytest.raises(ValueError):
        parse_duration(text)
    with pytest.raises(ValueError):
        parse_duration(text, allow_zero=True)


def test_zero_minutes_is_only_a_wait():
    assert parse_duration("0m", allow_zero=True) == ZERO
    with pytest.raises(ValueError):
        parse_duration("0m")
    assert Step(notify=["support-team"], via=["chat"], wait="0m").wait_span == ZERO
    with pytest.raises(ValidationError):
        Target(within="0m", clock="24x7")
    with pytest.raises(ValidationError):
        Target(within="0m", clock="business")


def test_days_allowed_on_24x7_clock():
    assert Target(within="2d", clock="24x7").span == timedelta(days=2)


def test_days_on_business_clock_rejected_at_policy_load_with_clear_error():
    with pytest.raises(ValidationError, match="business clock"):
        Target(within="1d", clock="business")
    text = policy_text(**{"response: {within: 24h, clock: business}": "response: {within: 1d, clock: business}"})
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "blockit.yaml")
    message = str(raised.value)
    assert "blockit.yaml: severities.4.response" in message
    assert "within: '1d'" in message and "business clock" in message


# --- Hours ---------------------------------------------------------------------


def test_hours_parse_to_minutes_after_midnight():
    assert parse_hours("09:00-17:00") == (540, 1020)
    assert parse_hours("00:00-00:01") == (0, 1)


def test_hours_may_end_at_24_00():
    assert parse_hours("22:00-24:00") == (1320, 1440)
    assert parse_hours("00:00-24:00") == (0, 1440)


@pytest.mark.parametrize("text", ["17:00-09:00", "09:00-09:00", "22:00-02:00", "24:00-24:00"])
def test_hours_with_start_not_before_end_rejected(text: str):
    with pytest.raises(ValueError):
        parse_hours(text)


@pytest.mark.parametrize(
    "text", ["9:00-17:00", "09:00", "09:00-17:00-18:00", "09:60-10:00", "24:30-24:45", "25:00-26:00", "a-b"]
)
def test_malformed_hours_rejected(text: str):
    with pytest.raises(ValueError):
        parse_hours(text)


def test_inverted_hours_rejected_by_calendar_spec():
    with pytest.raises(ValidationError, match="start must be before the end"):
        CalendarSpec(timezone="America/Chicago", hours={"mon": ["17:00-09:00"]})


def test_adjacent_hours_merge():
    assert merge_ranges([(540, 720), (720, 1020)]) == ((540, 1020),)
    assert merge_ranges([(720, 1020), (540, 720), (1080, 1140)]) == ((540, 1020), (1080, 1140))
    spec = CalendarSpec(timezone="America/Chicago", hours={"mon": ["12:00-17:00", "09:00-12:00"]})
    assert spec.business_calendar().weekly[0] == ((540, 1020),)


def test_overlapping_hours_rejected():
    with pytest.raises(ValueError, match="overlaps"):
        merge_ranges([(540, 780), (720, 1020)])
    with pytest.raises(ValueError, match="overlaps"):
        merge_ranges([(540, 1020), (600, 660)])
    with pytest.raises(ValidationError, match="overlaps"):
        CalendarSpec(timezone="America/Chicago", hours={"wed": ["09:00-13:00", "12:00-17:00"]})


def test_overnight_cover_split_across_days_counts_continuously():
    calendar = BusinessCalendar("America/Chicago", {0: ((22 * 60, 24 * 60),), 1: ((0, 6 * 60),)})
    assert calendar.add(chicago(2027, 1, 11, 23, 0), 2 * H) == chicago(2027, 1, 12, 1, 0)
    assert calendar.add(chicago(2027, 1, 11, 21, 0), 8 * H) == chicago(2027, 1, 12, 6, 0)
    assert calendar.between(chicago(2027, 1, 11, 20, 0), chicago(2027, 1, 12, 12, 0)) == 8 * H


# --- Local times -----------------------------------------------------------------


def test_local_time_in_spring_forward_gap_moves_to_end_of_gap():
    assert to_instant(date(2027, 3, 14), 2 * 60 + 30, CHICAGO) == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)
    assert to_instant(date(2027, 3, 14), 2 * 60, CHICAGO) == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)
    assert to_instant(date(2027, 3, 14), 3 * 60, CHICAGO) == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)


def test_ambiguous_local_time_uses_fold_0_first_occurrence():
    # 01:30 happens twice on 2027-11-07; fold=0 is the first one, still CDT.
    assert to_instant(date(2027, 11, 7), 90, CHICAGO) == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)


def test_24_00_is_the_next_local_midnight():
    assert to_instant(date(2027, 3, 13), 24 * 60, CHICAGO) == chicago(2027, 3, 14, 0, 0)
    assert to_instant(date(2027, 11, 6), 24 * 60, CHICAGO) == chicago(2027, 11, 7, 0, 0)


def test_hours_starting_in_the_gap_open_at_end_of_gap():
    # Sunday 02:00-04:00 on the spring-forward day opens at 03:00 CDT and holds one real hour.
    calendar = BusinessCalendar("America/Chicago", {6: ((120, 240),)})
    sunday = chicago(2027, 3, 14, 0, 0)
    assert calendar.add(sunday, ZERO) == chicago(2027, 3, 14, 3, 0)
    assert calendar.add(sunday, 30 * M) == chicago(2027, 3, 14, 3, 30)
    assert calendar.add(sunday, H) == chicago(2027, 3, 14, 4, 0)
    assert calendar.between(sunday, chicago(2027, 3, 15)) == H


def test_hours_spanning_the_gap_hold_fewer_real_hours_on_spring_forward():
    calendar = BusinessCalendar("America/Chicago", {6: ((60, 240),)})  # Sunday 01:00-04:00
    sunday = chicago(2027, 3, 14, 0, 0)
    assert calendar.between(sunday, chicago(2027, 3, 15)) == 2 * H
    assert calendar.add(sunday, H) == chicago(2027, 3, 14, 3, 0)  # 01:00 CST + 1h = 03:00 CDT
    assert calendar.add(sunday, 2 * H) == chicago(2027, 3, 14, 4, 0)
    # The third hour comes the next Sunday.
    assert calendar.add(sunday, 3 * H) == chicago(2027, 3, 21, 2, 0)


def test_hours_spanning_the_repeated_hour_hold_more_real_hours_on_fall_back():
    calendar = BusinessCalendar("America/Chicago", {6: ((60, 240),)})  # Sunday 01:00-04:00
    sunday = chicago(2027, 11, 7, 0, 0)
    assert calendar.between(sunday, chicago(2027, 11, 8)) == 4 * H
    # Inside the repeated hour, PEP 495 makes `==` across zones always false: compare in UTC.
    opens = datetime(2027, 11, 7, 6, 0, tzinfo=UTC)  # 01:00 CDT, the first 01:00
    assert calendar.add(sunday, ZERO).astimezone(UTC) == opens
    second_0100 = calendar.add(sunday, H)
    assert second_0100.astimezone(UTC) == datetime(2027, 11, 7, 7, 0, tzinfo=UTC)  # 01:00 CST, the second 01:00
    assert second_0100.fold == 1 and second_0100.utcoffset() == timedelta(hours=-6)
    assert calendar.add(sunday, 4 * H) == chicago(2027, 11, 7, 4, 0)


def test_hours_wholly_inside_the_gap_are_no_opening():
    # Sunday 02:00-02:30 does not exist on the spring-forward day; the next opening is a week later.
    calendar = BusinessCalendar("America/Chicago", {6: ((120, 150),)})
    assert calendar.add(chicago(2027, 3, 14, 0, 0), ZERO) == chicago(2027, 3, 21, 2, 0)
    assert calendar.between(chicago(2027, 3, 14), chicago(2027, 3, 15)) == ZERO


def test_all_day_business_calendar_spring_forward_day_has_23_open_hours():
    calendar = BusinessCalendar("America/Chicago", ALL_WEEK)
    assert calendar.between(chicago(2027, 3, 14), chicago(2027, 3, 15)) == 23 * H
    start = chicago(2027, 3, 13, 12, 0)
    due = calendar.add(start, 24 * H)
    assert due == chicago(2027, 3, 14, 13, 0)
    assert elapsed(start, due) == 24 * H


def test_all_day_business_calendar_fall_back_day_has_25_open_hours():
    calendar = BusinessCalendar("America/Chicago", ALL_WEEK)
    assert calendar.between(chicago(2027, 11, 7), chicago(2027, 11, 8)) == 25 * H
    start = chicago(2027, 11, 6, 12, 0)
    due = calendar.add(start, 24 * H)
    assert due == chicago(2027, 11, 7, 11, 0)
    assert elapsed(start, due) == 24 * H


def test_business_add_counts_real_time_when_start_is_in_the_local_zone():
    # Regression: zone-aware `+` is wall-clock arithmetic. 00:30 CST + 3h open time
    # on an all-day calendar is 04:30 CDT, not 03:30.
    calendar = BusinessCalendar("America/Chicago", ALL_WEEK)
    start = chicago(2027, 3, 14, 0, 30)
    assert calendar.add(start, 3 * H) == chicago(2027, 3, 14, 4, 30)
    assert calendar.add(start, 3 * H) == calendar.add(start.astimezone(UTC), 3 * H)
    assert calendar.between(start, chicago(2027, 3, 14, 4, 30)) == 3 * H
    fall = chicago(2027, 11, 7, 0, 30)
    assert calendar.add(fall, 3 * H) == chicago(2027, 11, 7, 2, 30)
    assert calendar.between(fall, chicago(2027, 11, 7, 2, 30)) == 3 * H


# --- Business addition -----------------------------------------------------------


def test_blockit_sev3_friday_1630_is_due_monday_0930(blockit: LoadedPolicy, blockit_calendar: BusinessCalendar):
    received = chicago(2027, 1, 8, 16, 30)  # Friday
    assert received.weekday() == 4
    response = blockit.policy.severity(3).response
    assert (response.within, response.clock) == ("1h", "business")
    due = target_due(response, blockit_calendar, received)
    assert due == chicago(2027, 1, 11, 9, 30)
    assert due.tzinfo == CHICAGO


def test_blockit_sev3_friday_1630_warns_monday_0915(blockit: LoadedPolicy, blockit_calendar: BusinessCalendar):
    assert blockit.policy.warn_at == [0.75]
    received = chicago(2027, 1, 8, 16, 30)
    warning = target_due(blockit.policy.severity(3).response, blockit_calendar, received, (), 0.75)
    assert warning == chicago(2027, 1, 11, 9, 15)


def test_start_outside_open_hours_begins_at_next_opening(blockit_calendar: BusinessCalendar):
    assert blockit_calendar.add(chicago(2027, 1, 11, 7, 0), H) == chicago(2027, 1, 11, 10, 0)  # Mon early
    assert blockit_calendar.add(chicago(2027, 1, 11, 18, 0), H) == chicago(2027, 1, 12, 10, 0)  # Mon evening
    assert blockit_calendar.add(chicago(2027, 1, 9, 10, 0), H) == chicago(2027, 1, 11, 10, 0)  # Saturday
    assert blockit_calendar.add(chicago(2027, 1, 10, 23, 59), H) == chicago(2027, 1, 11, 10, 0)  # Sunday night


def test_time_is_consumed_across_intervals_skipping_weekends_and_holidays(blockit_calendar: BusinessCalendar):
    # Sev 4 (24h business) received Wed 2027-11-24 10:00: 7h Wed, Thanksgiving Thu,
    # the explicit holiday Fri, the weekend, 8h Mon, 8h Tue, 1h Wed.
    assert blockit_calendar.add(chicago(2027, 11, 24, 10, 0), 24 * H) == chicago(2027, 12, 1, 10, 0)


def test_deadline_landing_exactly_on_closing_time_stays_there(blockit_calendar: BusinessCalendar):
    assert blockit_calendar.add(chicago(2027, 1, 11, 16, 0), H) == chicago(2027, 1, 11, 17, 0)
    assert blockit_calendar.add(chicago(2027, 1, 8, 9, 0), 8 * H) == chicago(2027, 1, 8, 17, 0)  # Friday
    assert blockit_calendar.add(chicago(2027, 1, 7, 9, 0), 16 * H) == chicago(2027, 1, 8, 17, 0)


def test_add_zero_while_open_is_the_start(blockit_calendar: BusinessCalendar):
    assert blockit_calendar.add(chicago(2027, 1, 11, 9, 0), ZERO) == chicago(2027, 1, 11, 9, 0)
    assert blockit_calendar.add(chicago(2027, 1, 11, 12, 34), ZERO) == chicago(2027, 1, 11, 12, 34)


def test_add_zero_exactly_at_closing_time_is_the_start(blockit_calendar: BusinessCalendar):
    assert blockit_calendar.add(chicago(2027, 1, 8, 17, 0), ZERO) == chicago(2027, 1, 8, 17, 0)


def test_add_zero_exactly_at_a_24_00_closing_time_is_the_start():
    # Regression: a 24:00 close is the next local day's midnight, which the next day's hours do not hold.
    calendar = BusinessCalendar("America/Chicago", {0: ((20 * 60, 24 * 60),)})  # Mondays 20:00-24:00
    tuesday_midnight = chicago(2027, 1, 12, 0, 0)
    assert calendar.add(tuesday_midnight, ZERO) == tuesday_midnight
    assert calendar.add(chicago(2027, 1, 11, 22, 0), 2 * H) == tuesday_midnight
    assert calendar.add(tuesday_midnight, M) == chicago(2027, 1, 18, 20, 1)


def test_add_zero_outside_open_hours_is_the_next_opening(blockit_calendar: BusinessCalendar):
    assert blockit_calendar.add(chicago(2027, 1, 11, 8, 0), ZERO) == chicago(2027, 1, 11, 9, 0)
    assert blockit_calendar.add(chicago(2027, 1, 8, 17, 1), ZERO) == chicago(2027, 1, 11, 9, 0)
    assert blockit_calendar.add(chicago(2027, 1, 9, 12, 0), ZERO) == chicago(2027, 1, 11, 9, 0)


def test_negative_business_duration_rejected(blockit_calendar: BusinessCalendar):
    with pytest.raises(ValueError):
        blockit_calendar.add(chicago(2027, 1, 11, 9, 0), -M)


def test_lunch_break_is_skipped():
    calendar = BusinessCalendar("America/Chicago", LUNCH)
    monday = (2027, 1, 11)
    assert calendar.add(chicago(*monday, 11, 30), H) == chicago(*monday, 13, 30)
    assert calendar.add(chicago(*monday, 12, 30), 30 * M) == chicago(*monday, 13, 30)  # starts at 13:00
    assert calendar.add(chicago(*monday, 11, 0), H) == chicago(*monday, 12, 0)  # lands on the lunch close
    assert calendar.add(chicago(*monday, 12, 0), ZERO) == chicago(*monday, 12, 0)
    assert calendar.add(chicago(*monday, 12, 1), ZERO) == chicago(*monday, 13, 0)
    assert calendar.add(chicago(*monday, 9, 0), 7 * H) == chicago(*monday, 17, 0)
    assert calendar.add(chicago(*monday, 9, 0), 7 * H + M) == chicago(2027, 1, 12, 9, 1)
    assert calendar.between(chicago(*monday, 11, 0), chicago(*monday, 14, 0)) == 2 * H


# --- Holidays --------------------------------------------------------------------


def test_start_on_thanksgiving_waits_past_the_explicit_holiday_and_weekend(blockit_calendar: BusinessCalendar):
    # Thanksgiving (named, US) is Thu 2027-11-25; 2027-11-26 is an explicit local date.
    assert blockit_calendar.add(chicago(2027, 11, 25, 10, 0), H) == chicago(2027, 11, 29, 10, 0)
    assert not blockit_calendar.is_open(chicago(2027, 11, 25, 10, 0))


def test_explicit_holiday_date_is_closed(blockit_calendar: BusinessCalendar):
    assert not blockit_calendar.is_open(chicago(2027, 11, 26, 10, 0))
    assert blockit_calendar.add(chicago(2027, 11, 26, 10, 0), ZERO) == chicago(2027, 11, 29, 9, 0)
    assert blockit_calendar.between(chicago(2027, 11, 24, 0, 0), chicago(2027, 11, 29, 0, 0)) == 8 * H


def test_explicit_holiday_is_a_local_date():
    # A holiday on 2027-01-11 in Chicago closes Chicago's Monday, whatever UTC date it is.
    calendar = BusinessCalendar("America/Chicago", MON_FRI_9_17, frozenset({date(2027, 1, 11)}))
    assert calendar.add(chicago(2027, 1, 8, 16, 30), H) == chicago(2027, 1, 12, 9, 30)
    late_monday_utc = datetime(2027, 1, 12, 2, 0, tzinfo=UTC)  # Mon 20:00 in Chicago
    assert calendar.local_day(late_monday_utc) == date(2027, 1, 11)


def test_observed_holiday_selected_by_its_name(blockit_calendar: BusinessCalendar):
    # Independence Day 2027 falls on Sunday; "Independence Day (observed)" is Mon 2027-07-05.
    assert blockit_calendar.add(chicago(2027, 7, 2, 16, 30), H) == chicago(2027, 7, 6, 9, 30)
    # Christmas 2027 is Saturday, observed Friday 2027-12-24.
    assert blockit_calendar.add(chicago(2027, 12, 23, 16, 30), H) == chicago(2027, 12, 27, 9, 30)


def test_country_holiday_not_named_is_a_working_day(blockit_calendar: BusinessCalendar):
    # Juneteenth (observed Fri 2027-06-18) is a US holiday, but not in blockit's list.
    assert blockit_calendar.add(chicago(2027, 6, 17, 16, 30), H) == chicago(2027, 6, 18, 9, 30)


@pytest.mark.parametrize("name", ["Thanksgiving", "thanksgiving day", "Christmas", "Festivus"])
def test_holiday_name_must_match_exactly(name: str):
    text = policy_text(**{'"Thanksgiving Day"': f'"{name}"'})
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "blockit.yaml")
    assert "blockit.yaml: calendar.holiday_names[4]" in str(raised.value)


def test_calendar_refuses_to_guess_holidays_past_the_expanded_years(blockit: LoadedPolicy):
    calendar = blockit.business_calendar()  # expanded 2026..2029
    with pytest.raises(HolidaysNotKnown):
        calendar.add(chicago(2029, 12, 28, 16, 30), 24 * H)


# --- BluB0X ----------------------------------------------------------------------


def test_blub0x_regular_request_on_saturday_starts_monday_0800_eastern(blub0x: LoadedPolicy):
    calendar = blub0x.business_calendar()
    regular = blub0x.policy.severity(blub0x.policy.default_severity)
    assert (regular.response.within, regular.response.clock) == ("4h", "business")
    saturday = new_york(2027, 1, 9, 14, 0)
    assert calendar.add(saturday, ZERO) == new_york(2027, 1, 11, 8, 0)
    assert target_due(regular.response, calendar, saturday) == new_york(2027, 1, 11, 12, 0)


def test_blub0x_regular_request_friday_evening_continues_monday(blub0x: LoadedPolicy):
    calendar = blub0x.business_calendar()
    response = blub0x.policy.severity(2).response
    assert target_due(response, calendar, new_york(2027, 1, 8, 19, 0)) == new_york(2027, 1, 11, 11, 0)


# --- Warnings --------------------------------------------------------------------


def test_warning_falls_at_fraction_of_target_on_its_own_clock(
    blockit: LoadedPolicy, blockit_calendar: BusinessCalendar
):
    received = chicago(2027, 1, 8, 16, 30)
    resolution = blockit.policy.severity(3).resolution  # 5d 24x7
    assert resolution is not None
    assert target_due(resolution, blockit_calendar, received, (), 0.75) == received + timedelta(days=3, hours=18)


def test_warn_at_accepts_a_list_of_fractions(policy_dir: Path):
    text = policy_text(**{"warn_at: 0.75": "warn_at: [0.9, 0.5, 0.5]"})
    policy = parse_policy(text, "blockit.yaml")
    assert policy.warn_at == [0.5, 0.9]


def test_emergency_warning_counts_from_the_request_time(blockit: LoadedPolicy, blockit_calendar: BusinessCalendar):
    emergency = blockit.policy.severity(2).emergency
    assert emergency is not None
    requested = chicago(2027, 1, 9, 10, 0)
    assert target_due(emergency, blockit_calendar, requested, (), 0.75) == requested + timedelta(hours=36)


def test_warning_moves_with_pause_credit(blockit_calendar: BusinessCalendar):
    target = Target(within="4h", clock="24x7")
    start = chicago(2027, 1, 11, 10, 0)
    pause = [(chicago(2027, 1, 11, 11, 0), chicago(2027, 1, 11, 12, 0))]
    assert target_due(target, blockit_calendar, start, pause, 0.75) == chicago(2027, 1, 11, 14, 0)
    business = Target(within="8h", clock="business")
    business_pause = [(chicago(2027, 1, 11, 12, 0), chicago(2027, 1, 12, 10, 0))]  # 5h Mon + 1h Tue of clock time
    assert target_due(business, blockit_calendar, start, (), 0.75) == chicago(2027, 1, 11, 16, 0)
    assert target_due(business, blockit_calendar, start, business_pause, 0.75) == chicago(2027, 1, 12, 14, 0)


# --- Pause -----------------------------------------------------------------------


def test_pause_credit_on_24x7_clock_is_elapsed_time_inside_the_pause():
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 1, 9, 10, 0)  # Saturday: a 24x7 clock does not care
    pauses = [(chicago(2027, 1, 9, 11, 0), chicago(2027, 1, 9, 12, 30))]
    assert clock.due(start, 4 * H, pauses) == chicago(2027, 1, 9, 15, 30)
    assert clock.credit(pauses, chicago(2027, 1, 10)) == 90 * M


def test_pause_credit_on_business_clock_is_open_time_inside_the_pause(blockit_calendar: BusinessCalendar):
    clock = SlaClock("business", blockit_calendar)
    start = chicago(2027, 1, 11, 9, 0)  # Monday
    pauses = [(chicago(2027, 1, 11, 16, 0), chicago(2027, 1, 12, 10, 0))]  # Mon 16:00 → Tue 10:00
    assert clock.credit(pauses, chicago(2027, 1, 20)) == 2 * H
    # 7h run before the pause, the last hour after it.
    assert clock.due(start, 8 * H, pauses) == chicago(2027, 1, 12, 11, 0)


def test_pause_over_closed_time_gives_no_business_credit(blockit_calendar: BusinessCalendar):
    clock = SlaClock("business", blockit_calendar)
    start = chicago(2027, 1, 8, 16, 30)
    weekend = [(chicago(2027, 1, 8, 18, 0), chicago(2027, 1, 11, 8, 0))]
    assert clock.credit(weekend, chicago(2027, 1, 20)) == ZERO
    assert clock.due(start, H, weekend) == clock.due(start, H) == chicago(2027, 1, 11, 9, 30)


def test_pause_spans_are_merged_and_order_does_not_matter():
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 1, 11, 10, 0)
    pauses = [
        (chicago(2027, 1, 11, 12, 0), chicago(2027, 1, 11, 13, 0)),
        (chicago(2027, 1, 11, 11, 0), chicago(2027, 1, 11, 12, 30)),  # overlaps the first
        (chicago(2027, 1, 11, 9, 0), chicago(2027, 1, 11, 10, 30)),  # began before the start
    ]
    # Paused 10:00-10:30 and 11:00-13:00: 2.5h of credit.
    assert clock.due(start, 4 * H, pauses) == chicago(2027, 1, 11, 16, 30)


def test_pause_after_the_deadline_does_not_move_it():
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 1, 11, 10, 0)
    assert clock.due(start, H, [(chicago(2027, 1, 11, 12, 0), chicago(2027, 1, 11, 13, 0))]) == chicago(
        2027, 1, 11, 11, 0
    )


def test_open_pause_stops_the_clock_until_it_ends():
    # A pause still running is stored with its end far ahead; the deadline waits for it.
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 1, 11, 10, 0)
    pause = [(chicago(2027, 1, 11, 10, 30), chicago(2027, 2, 1, 0, 0))]
    assert clock.due(start, H, pause) == chicago(2027, 2, 1, 0, 30)


def test_pause_in_the_repeated_fall_back_hour_counts_real_time():
    # Regression: spans written in the local zone across the repeated hour are ordered by instant,
    # not by wall clock (01:30 CDT comes before 01:10 CST).
    clock = SlaClock("24x7", BusinessCalendar("America/Chicago", MON_FRI_9_17))
    start = chicago(2027, 11, 7, 0, 0)  # 05:00Z
    early = (datetime(2027, 11, 7, 1, 30, tzinfo=CHICAGO, fold=0), datetime(2027, 11, 7, 1, 50, tzinfo=CHICAGO, fold=0))
    late = (datetime(2027, 11, 7, 1, 10, tzinfo=CHICAGO, fold=1), datetime(2027, 11, 7, 1, 20, tzinfo=CHICAGO, fold=1))
    assert early[0].astimezone(UTC) < late[0].astimezone(UTC)
    assert clock.credit([late, early], chicago(2027, 11, 8)) == 30 * M
    assert elapsed(start, clock.due(start, 3 * H, [late, early])) == 3 * H + 30 * M


def test_only_the_resolution_clock_pauses(blockit: LoadedPolicy, blockit_calendar: BusinessCalendar):
    severity = blockit.policy.severity(2)
    received = chicago(2027, 1, 11, 10, 0)
    requested = chicago(2027, 1, 11, 10, 30)
    pauses = [(chicago(2027, 1, 11, 10, 5), chicago(2027, 1, 11, 15, 5))]  # 5h
    plain = deadlines(severity, blockit_calendar, received, (), requested)
    paused = deadlines(severity, blockit_calendar, received, pauses, requested)
    assert paused.response_due_at == plain.response_due_at == chicago(2027, 1, 11, 11, 0)
    assert paused.emergency_due_at == plain.emergency_due_at == requested + 48 * H
    assert plain.resolution_due_at == received + timedelta(days=2)
    assert paused.resolution_due_at == received + timedelta(days=2, hours=5)


# --- Severity change -------------------------------------------------------------


def test_severity_change_recomputes_from_received_at_keeping_pause_credit(
    blockit: LoadedPolicy, blockit_calendar: BusinessCalendar
):
    received = chicago(2027, 1, 11, 10, 0)
    pauses = [(chicago(2027, 1, 11, 12, 0), chicago(2027, 1, 11, 15, 0))]  # 3h
    as_sev3 = deadlines(blockit.policy.severity(3), blockit_calendar, received, pauses)
    as_sev2 = deadlines(blockit.policy.severity(2), blockit_calendar, received, pauses)
    as_sev1 = deadlines(blockit.policy.severity(1), blockit_calendar, received, pauses)
    assert as_sev3.resolution_due_at == received + timedelta(days=5, hours=3)
    assert as_sev2.resolution_due_at == received + timedelta(days=2, hours=3)
    assert as_sev1.resolution_due_at == received + 7 * H  # 4h 24x7 plus 3h credit
    assert as_sev1.response_due_at == received + 30 * M  # 24x7, never paused


# --- Emergency -------------------------------------------------------------------


def test_emergency_due_48h_from_request_on_24x7_clock(blockit: LoadedPolicy, blockit_calendar: BusinessCalendar):
    severity = blockit.policy.severity(2)
    requested = chicago(2027, 3, 13, 10, 0)  # Saturday before spring forward
    due = deadlines(severity, blockit_calendar, chicago(2027, 3, 12, 16, 0), (), requested)
    assert due.emergency_due_at is not None
    assert elapsed(requested, due.emergency_due_at) == 48 * H
    assert due.emergency_due_at == chicago(2027, 3, 15, 11, 0)


def test_emergency_target_not_moved_by_pause_or_severity_change(
    blockit: LoadedPolicy, blockit_calendar: BusinessCalendar
):
    received, requested = chicago(2027, 1, 11, 10, 0), chicago(2027, 1, 11, 11, 0)
    pauses = [(chicago(2027, 1, 11, 12, 0), chicago(2027, 1, 12, 12, 0))]
    a = deadlines(blockit.policy.severity(2), blockit_calendar, received, (), requested)
    b = deadlines(blockit.policy.severity(2), blockit_calendar, received, pauses, requested)
    assert a.emergency_due_at == b.emergency_due_at == requested + 48 * H


def test_no_emergency_deadline_without_a_request_or_target(blockit: LoadedPolicy, blockit_calendar: BusinessCalendar):
    received = chicago(2027, 1, 11, 10, 0)
    assert deadlines(blockit.policy.severity(2), blockit_calendar, received).emergency_due_at is None
    assert deadlines(blockit.policy.severity(3), blockit_calendar, received, (), received).emergency_due_at is None


# --- between ---------------------------------------------------------------------


def test_between_is_open_time_inside_the_span(blockit_calendar: BusinessCalendar):
    assert blockit_calendar.between(chicago(2027, 1, 11, 10, 0), chicago(2027, 1, 11, 12, 0)) == 2 * H
    assert blockit_calendar.between(chicago(2027, 1, 11, 8, 0), chicago(2027, 1, 11, 18, 0)) == 8 * H
    assert blockit_calendar.between(chicago(2027, 1, 8, 16, 30), chicago(2027, 1, 11, 9, 30)) == H
    assert blockit_calendar.between(chicago(2027, 1, 9, 0, 0), chicago(2027, 1, 11, 0, 0)) == ZERO  # weekend
    assert blockit_calendar.between(chicago(2027, 1, 11, 0, 0), chicago(2027, 1, 18, 0, 0)) == 40 * H


def test_between_empty_or_reversed_span_is_zero(blockit_calendar: BusinessCalendar):
    t = chicago(2027, 1, 11, 10, 0)
    assert blockit_calendar.between(t, t) == ZERO
    assert blockit_calendar.between(t + H, t) == ZERO


def test_between_does_not_depend_on_the_zone_the_instants_are_written_in(blockit_calendar: BusinessCalendar):
    start, end = chicago(2027, 1, 8, 16, 30), chicago(2027, 1, 12, 10, 0)
    expected = blockit_calendar.between(start, end)
    assert expected == 9 * H + 30 * M
    assert blockit_calendar.between(start.astimezone(UTC), end.astimezone(UTC)) == expected
    assert blockit_calendar.between(start.astimezone(NEW_YORK), end) == expected


def test_between_inverts_add(blockit_calendar: BusinessCalendar):
    start = chicago(2027, 11, 24, 10, 0)
    for span in (ZERO, M, H, 7 * H, 24 * H, 240 * H):
        assert blockit_calendar.between(start, blockit_calendar.add(start, span)) == span


def test_results_are_given_in_the_calendar_zone(blockit_calendar: BusinessCalendar):
    due = blockit_calendar.add(datetime(2027, 1, 8, 22, 30, tzinfo=UTC), H)
    assert due.tzinfo == CHICAGO
    assert due == chicago(2027, 1, 11, 9, 30)
