"""The SLA report: did we keep our promises? A pure function over archived statuses and the tenant's policy.

DESIGN "Case records and reports" and Decision 3 define it: cases received in
[from, to) in the tenant's zone, spam and duplicate closes left out, each
counted under its final severity; per target `met`, `breached`, `pending`,
`met_pct` and the median and p90 minutes by nearest rank, counted on the
target's own clock (business minutes for a business clock) with pause
credit taken off resolution. The clocks are `workflows/sla.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from archive.outcomes import Judged, judge, left_out
from archive.replay import NotJudgeable, replay
from workflows.calendar import zone
from workflows.contracts import (
    CaseStatus,
    SeverityFigures,
    SlaReport,
    TargetFigures,
    TargetName,
    TotalFigures,
)
from workflows.policy import LoadedPolicy, Severity
from workflows.sla import Span, clock_for

MINUTE = timedelta(minutes=1)


def window(start: date, end: date, timezone: str) -> tuple[datetime, datetime]:
    """[from, to) as instants: local midnights in the tenant's zone."""
    tz = zone(timezone)
    return datetime.combine(start, time(0), tz), datetime.combine(end, time(0), tz)


def in_window(statuses: Iterable[CaseStatus], tenant: str, start: date, end: date, timezone: str) -> list[CaseStatus]:
    """The cases a report or a what-if counts, by received_at then case_id."""
    low, high = window(start, end, timezone)
    counted = [s for s in statuses if s.tenant == tenant and low <= s.received_at < high and not left_out(s)]
    return sorted(counted, key=lambda s: (s.received_at, s.case_id))


def nearest_rank(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def one_decimal(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class Tally:
    met: int = 0
    breached: int = 0
    pending: int = 0
    minutes: list[float] = field(default_factory=list)

    def add(self, judged: Judged, minutes: float | None) -> None:
        if judged.outcome == "met":
            self.met += 1
        elif judged.outcome == "breached":
            self.breached += 1
        else:
            self.pending += 1
        if minutes is not None:
            self.minutes.append(minutes)

    def merge(self, other: Tally) -> None:
        self.met, self.breached, self.pending = (
            self.met + other.met,
            self.breached + other.breached,
            self.pending + other.pending,
        )
        self.minutes += other.minutes

    def figures(self) -> TargetFigures:
        judged = self.met + self.breached
        return TargetFigures(
            met=self.met,
            breached=self.breached,
            pending=self.pending,
            met_pct=one_decimal(self.met * 100 / judged) if judged else None,
            median_minutes=one_decimal(nearest_rank(self.minutes, 0.5)),
            p90_minutes=one_decimal(nearest_rank(self.minutes, 0.9)),
        )


class SlaReportBuilder:
    """The report over one tenant's policy; `now` is only where an open case's replay (for its pauses) ends."""

    def __init__(self, loaded: LoadedPolicy, now: datetime):
        self.loaded = loaded
        self.policy = loaded.policy
        self.calendar = loaded.business_calendar()
        self.now = now

    def build(self, statuses: Iterable[CaseStatus], start: date, end: date) -> SlaReport:
        counted = in_window(statuses, self.policy.tenant, start, end, self.policy.calendar.timezone)
        levels = sorted(set(self.policy.severities) | {s.severity for s in counted})
        blocks, totals = [], {"response": Tally(), "resolution": Tally()}
        breached: list[str] = []
        for level in levels:
            cases = [s for s in counted if s.severity == level]
            tallies = self.tallies(level, cases)
            for target, total in totals.items():
                tally = tallies.get(target)  # type: ignore[call-overload]
                if tally is not None:
                    total.merge(tally)
            blocks.append(
                SeverityFigures(
                    severity=level,
                    name=self.policy.severities[level].name
                    if level in self.policy.severities
                    else cases[0].severity_name,
                    cases=len(cases),
                    **{target: tally.figures() if tally else None for target, tally in tallies.items()},
                )
            )
        for status in counted:
            if status.breaches or any(j.outcome == "breached" for j in judge(status).values()):
                breached.append(status.case_id)
        return SlaReport(
            tenant=self.policy.tenant,
            from_=start,
            to=end,
            timezone=self.policy.calendar.timezone,
            severities=blocks,
            total=TotalFigures(
                cases=len(counted), response=totals["response"].figures(), resolution=totals["resolution"].figures()
            ),
            breached=breached,
        )

    def tallies(self, level: int, cases: list[CaseStatus]) -> dict[TargetName, Tally | None]:
        """One tally per target the severity has (None where it has none)."""
        spec = self.policy.severities.get(level)
        judged = [(status, judge(status)) for status in cases]
        tallies: dict[TargetName, Tally | None] = {}
        for target in ("response", "resolution", "emergency"):
            if spec is not None:
                has = getattr(spec, target) is not None
            else:  # a severity the policy no longer defines: what its records show
                has = target == "response" or any(j.get(target, Judged("none")).outcome != "none" for _, j in judged)
            if not has:
                tallies[target] = None
                continue
            tally = Tally()
            for status, outcomes in judged:
                found = outcomes.get(target)
                if found is not None and found.outcome != "none":
                    tally.add(found, self.minutes(status, target, found, spec))
            tallies[target] = tally
        return tallies

    def minutes(self, status: CaseStatus, target: TargetName, judged: Judged, spec: Severity | None) -> float | None:
        """The target's own clock from its start to when it was met or completed late, less resolution's pauses."""
        target_spec = getattr(spec, target) if spec else None
        if judged.done is None or judged.start is None or target_spec is None:
            return None
        clock = clock_for(target_spec, self.calendar)
        spent = clock.between(judged.start, judged.done)
        if target == "resolution":
            spent -= clock.credit(self.pauses(status), judged.done)
        return max(spent, timedelta(0)) / MINUTE

    def pauses(self, status: CaseStatus) -> list[Span]:
        """The resolution clock's paused spans, as the case's own state kept them (replayed from its timeline)."""
        if not any(entry.event in ("paused", "reopened") for entry in status.timeline):
            return []
        try:
            return replay(status, self.loaded, self.now).closed_pauses()
        except NotJudgeable:
            return []


def sla_report(
    statuses: Iterable[CaseStatus], loaded: LoadedPolicy, start: date, end: date, now: datetime
) -> SlaReport:
    """The report's JSON model for the tenant of `loaded`, over `statuses` (any may fall outside the window)."""
    return SlaReportBuilder(loaded, now).build(statuses, start, end)
