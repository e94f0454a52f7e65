"""What one SLA deadline costs to compute.

    .venv/bin/python -m bench.sla_clock [--samples N] [--seed S]

Calendar: America/Chicago, Mon-Fri 09:00-12:00 and 13:00-17:00 (a lunch
break), every US holiday of the `holidays` package expanded for 2025-2029.
Start instants: uniformly random whole minutes over 2026-2027, so some fall
at night, on weekends, on holidays and near DST changes.

Targets: (a) 24h business, (b) 10d 24x7, (c) 240h business.

- cold: a fresh BusinessCalendar per deadline, so every local day it touches
  is turned into UTC instants again. This is what a workflow pays on its first
  task or on a replay, before its calendar cache is warm. Building the
  calendar object itself is outside the timed region (it takes the already
  parsed week and holiday set).
- warm: one calendar reused for every deadline, its per-day cache filling up.

Each figure is the median of per-call timings (time.perf_counter_ns around
one call). Beside it, the "bare floor": the median of a plain
`start + timedelta` timed the same way in the same run, and the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import holidays as holiday_tables

from workflows.calendar import BusinessCalendar
from workflows.sla import SlaClock

TIMEZONE = "America/Chicago"
WEEKLY = {day: ((9 * 60, 12 * 60), (13 * 60, 17 * 60)) for day in range(5)}
HOLIDAY_YEARS = range(2025, 2030)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_MINUTES = 2 * 365 * 24 * 60

TARGETS: list[tuple[str, str, timedelta]] = [
    ("(a) 24h business", "business", timedelta(hours=24)),
    ("(b) 10d 24x7", "24x7", timedelta(days=10)),
    ("(c) 240h business", "business", timedelta(hours=240)),
]


def us_holidays() -> frozenset[date]:
    return frozenset(holiday_tables.country_holidays("US", years=HOLIDAY_YEARS).keys())


def new_calendar(holidays: frozenset[date]) -> BusinessCalendar:
    return BusinessCalendar(TIMEZONE, WEEKLY, holidays, date(HOLIDAY_YEARS[-1], 12, 31))


def random_starts(count: int, seed: int) -> list[datetime]:
    rng = random.Random(seed)
    return [FIRST + timedelta(minutes=rng.randrange(SPAN_MINUTES)) for _ in range(count)]


def median_us(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1000


def time_each(starts: list[datetime], call: Callable[[datetime], object]) -> list[int]:
    out: list[int] = []
    clock = time.perf_counter_ns
    for start in starts:
        t0 = clock()
        call(start)
        out.append(clock() - t0)
    return out


def measure(
    kind: str, span: timedelta, starts: list[datetime], holidays: frozenset[date]
) -> tuple[float, float, float]:
    """(cold µs, warm µs, bare-floor µs), medians over `starts`."""
    # cold: a fresh calendar (and clock) per deadline
    cold: list[int] = []
    clock_ns = time.perf_counter_ns
    for start in starts:
        sla_clock = SlaClock(kind, new_calendar(holidays))  # type: ignore[arg-type]
        t0 = clock_ns()
        sla_clock.add(start, span)
        cold.append(clock_ns() - t0)
    # warm: one calendar for every deadline
    warm_clock = SlaClock(kind, new_calendar(holidays))  # type: ignore[arg-type]
    warm = time_each(starts, lambda start: warm_clock.add(start, span))
    # the bare floor: plain datetime arithmetic, timed the same way
    floor = time_each(starts, lambda start: start + span)
    return median_us(cold), median_us(warm), median_us(floor)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sla_clock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3000, help="random start instants per target (default 3000)")
    parser.add_argument("--seed", type=int, default=20270108)
    args = parser.parse_args(argv)

    holidays = us_holidays()
    starts = random_starts(args.samples, args.seed)
    # Warm up the interpreter paths (and zoneinfo's own caches) once, untimed.
    for _, kind, span in TARGETS:
        measure(kind, span, starts[:200], holidays)

    print(
        f"calendar: {TIMEZONE}, Mon-Fri 09:00-12:00 13:00-17:00, {len(holidays)} US holidays {HOLIDAY_YEARS[0]}-{HOLIDAY_YEARS[-1]}"
    )
    print(f"starts:   {args.samples} random minutes in 2026-2027 (seed {args.seed}); median µs per deadline")
    print()
    header = f"{'target':<20}{'cold µs':>10}{'warm µs':>10}{'floor µs':>10}{'cold/floor':>12}{'warm/floor':>12}"
    print(header)
    print("-" * len(header))
    for label, kind, span in TARGETS:
        cold, warm, floor = measure(kind, span, starts, holidays)
        print(f"{label:<20}{cold:>10.2f}{warm:>10.2f}{floor:>10.3f}{cold / floor:>11.0f}×{warm / floor:>11.0f}×")
    print()
    print(
        "floor = median of a plain `start + timedelta` timed the same way in this run (includes the timer's own cost)."
    )


if __name__ == "__main__":
    main()
