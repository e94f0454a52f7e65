"""The scale run's tables: each level's figures beside the floor's at the same level, then the growth."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from bench.scale.breakdown import PARTS, TAIL, Breakdown
from bench.scale.level import LevelResult, Window
from bench.scale.reads import Reads
from bench.table import Row, render

MIB = 1024 * 1024


@dataclass
class Level:
    """Both sides' figures at one level."""

    level: int
    cases: LevelResult
    floor: LevelResult
    case_reads: Reads
    floor_reads: Reads


def _lateness(label: str, ours: Window, base: Window) -> list[Row]:
    return [
        Row(f"breach lateness {label} p50, s", ours.lateness.p50, base.lateness.p50, 3),
        Row(f"breach lateness {label} p99, s", ours.lateness.p99, base.lateness.p99, 3),
        Row(f"breach lateness {label} max, s", ours.lateness.max, base.lateness.max, 3),
    ]


def _parts(label: str, ours: Window, base: Window) -> list[Row]:
    """Each part of the lateness (bench/scale/breakdown.py) at p99, then averaged over the latest deadlines."""
    mine, floor = ours.breakdown or Breakdown(), base.breakdown or Breakdown()
    nan = math.nan
    at_p99 = [Row(f"{label} lateness, {part} p99, s", mine.p(part, 0.99), floor.p(part, 0.99), 3) for part in PARTS]
    worst = f"{label} lateness, latest {TAIL:.0%}"
    in_tail = [
        Row(f"{worst}: {part} mean, s", mine.tail.get(part, nan), floor.tail.get(part, nan), 3) for part in PARTS
    ]
    return at_p99 + in_tail


def _share(window: Window, count: int) -> float:
    return math.nan if window.cache_misses is None else min(window.cache_misses / max(count, 1), 1.0) * 100


def rows(at: Level) -> list[Row]:
    cases, floor, ours, base = at.cases, at.floor, at.case_reads, at.floor_reads
    start_rate = floor.rates["start_workflow"]
    evicted, cached = cases.evicted, cases.cached
    gateway_cpu = cases.burst_cpu["gateway"].get("gateway", math.nan) * 1000
    count = at.level / 1000
    return [
        Row("intake via start_case, cases/s", cases.rates["start_case"], start_rate, 1),
        Row("intake via gateway, cases/s", cases.rates["gateway"], start_rate, 1),
        Row("gateway CPU per open, ms", gateway_cpu, None, 2, "≤ 2 ms", lambda v, r: v <= 2.0),
        Row("sustained fill, cases/s", cases.fill_rate, floor.fill_rate, 1),
        *_lateness("evicted", evicted, floor.evicted),
        *_lateness("cached", cached, floor.cached),
        *_parts("evicted", evicted, floor.evicted),
        Row(
            "deadlines on evicted cases, %",
            _share(evicted, evicted.lateness.measured),
            _share(floor.evicted, floor.evicted.lateness.measured),
            0,
        ),
        Row("worker CPU per breach, evicted, ms", evicted.cpu["worker"] * 1000, floor.evicted.cpu["worker"] * 1000, 2),
        Row("worker CPU per breach, cached, ms", cached.cpu["worker"] * 1000, floor.cached.cpu["worker"] * 1000, 2),
        Row("server CPU per breach, evicted, ms", evicted.cpu["server"] * 1000, floor.evicted.cpu["server"] * 1000, 2),
        Row("worker RSS, MiB", ours.worker_rss / MIB, base.worker_rss / MIB, 0),
        Row("server RSS, MiB", ours.server_rss / MIB, base.server_rss / MIB, 0),
        Row("SQLite per 1,000 open, MiB", ours.sqlite_bytes / MIB / count, base.sqlite_bytes / MIB / count, 2),
        Row("GET /v1/cases breached p50, ms", ours.list_p50 * 1000, base.list_p50 * 1000, 1),
        Row("GET /v1/cases breached p99, ms", ours.list_p99 * 1000, base.list_p99 * 1000, 1),
        Row("case list p50, s", ours.cli_p50, base.cli_p50, 2),
        Row("case list p99, s", ours.cli_p99, base.cli_p99, 2),
        Row("auditor run, s", ours.audit, base.audit, 3),
        Row("auditor query, ms", ours.audit_query * 1000, base.audit_query * 1000, 1),
    ]


def level_table(at: Level) -> str:
    return f"### {at.level:,} open cases\n\n" + render(rows(at))


def growth_table(levels: list[Level]) -> str:
    """Each figure at every level, and its growth from the level before (× for supportflow, floor in brackets)."""
    tables = [rows(at) for at in levels]
    header = ["figure", f"{levels[0].level:,}"]
    for before, after in itertools.pairwise(levels):
        header += [f"{after.level:,}", f"× from {before.level:,} (floor ×)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for index, first in enumerate(tables[0]):
        cells = [first.figure, _cell(first.ours, first.digits)]
        for before, after in itertools.pairwise(tables):
            now, then = after[index], before[index]
            cells += [_cell(now.ours, now.digits), f"{_ratio(now.ours, then.ours)} ({_ratio(now.floor, then.floor)})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "### Growth\n\n" + "\n".join(lines)


def _cell(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _ratio(now: float | None, then: float | None) -> str:
    if now is None or then is None or math.isnan(now) or math.isnan(then) or not then:
        return "—"
    return f"{now / then:.2f}×"
