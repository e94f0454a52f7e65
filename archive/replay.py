"""A case's recorded moments played again on a fresh `CaseState`, under any policy.

The archived status's timeline says when the case was received, responded
to, given a workaround, paused and resumed, changed severity, asked for
emergency maintenance, resolved, reopened and closed. Each moment changes
the `CaseState` the way the workflow's update handler does
(`workflows/case_updates.py`), and between moments the case's own alarms
fire its breaches, so every due time, pause credit and business hour comes
from the same code the workflow runs. Under the policy the case ran under,
this gives back the recorded breaches; under another, the ones it would
have given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflows.calendar import BusinessCalendar
from workflows.contracts import CaseStatus, TimelineEntry
from workflows.policy import LoadedPolicy
from workflows.sla import target_due
from workflows.state import CaseState, PausedSpan


class NotJudgeable(ValueError):
    """The case had a severity the policy does not define: none of its targets can be judged under it."""


def opening_severity(status: CaseStatus) -> int:
    """The severity the case opened with: its `opened` entry says so (older cases: the first change's `from`)."""
    for entry in status.timeline:
        if entry.event == "opened" and "severity" in entry.detail:
            return int(entry.detail["severity"])
        if entry.event == "severity_changed":
            return int(entry.detail["from"])
    return status.severity


def replay(status: CaseStatus, loaded: LoadedPolicy, now: datetime) -> CaseState:
    """`status`'s moments under `loaded`; an open case is judged as of `now`."""
    severity = opening_severity(status)
    if severity not in loaded.policy.severities:
        raise NotJudgeable(f"{status.case_id} opened at severity {severity}, which the policy does not define")
    calendar = loaded.business_calendar()
    case = CaseState(
        case_id=status.case_id,
        loaded=loaded,
        channel=status.channel,
        severity=severity,
        requester=status.requester,
        subject=status.subject,
        received_at=status.received_at,
    )
    for entry in status.timeline:
        moment = MOMENTS.get(entry.event)
        if moment is None:
            continue
        fire_breaches(case, calendar, entry.at, inclusive=False)
        moment(case, entry, calendar)
        # As the handler's `act_on_due_alarms` does right after it changed the case.
        fire_breaches(case, calendar, entry.at, inclusive=True)
    end = status.closed_at if status.state == "closed" and status.closed_at else now
    fire_breaches(case, calendar, end, inclusive=True)
    return case


def fire_breaches(case: CaseState, calendar: BusinessCalendar, until: datetime, *, inclusive: bool) -> None:
    """Every breach the case's own alarms put at or before `until` (strictly before, when not `inclusive`)."""
    while True:
        alarm = next((a for a in case.alarms(calendar) if a.kind == "breach"), None)
        if alarm is None or alarm.at > until or (alarm.at == until and not inclusive):
            return
        case.breaches.append(alarm.target)  # type: ignore[arg-type]


# --- what each recorded moment does to the case (mirrors workflows/case_updates.py) ---


def _meet_first_response(case: CaseState, at: datetime) -> None:
    if case.responded_at is None:
        case.responded_at = at


def _end_pause(case: CaseState, at: datetime, why: str = "waiting_on_customer") -> None:
    for span in case.pauses:
        if span.end is None and span.why == why:
            span.end = at
            return


def responded(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    _meet_first_response(case, entry.at)
    if case.state == "open":
        case.state = "responded"


def workaround_provided(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    _meet_first_response(case, entry.at)
    if case.paused:
        _end_pause(case, entry.at)
        case.state_before_pause = None
    case.state, case.workaround_at = "workaround_provided", entry.at
    target = case.level.resolution
    if target and target.workaround_stops_clock:
        due = case.resolution_due_at(calendar)
        meets = "resolution" not in case.breaches and due is not None and entry.at < due
        case.resolution_met_by_workaround = case.resolution_met_by_workaround or meets


def severity_changed(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    level = int(entry.detail["to"])
    if level not in case.policy.severities:
        raise NotJudgeable(f"{case.case_id} was changed to severity {level}, which the policy does not define")
    case.severity = level


def paused(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    case.state_before_pause, case.state = case.state, "waiting_on_customer"
    case.pauses.append(PausedSpan(start=entry.at))


def resumed(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    _end_pause(case, entry.at)
    case.state, case.state_before_pause = case.state_before_pause or "responded", None


def emergency_requested(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    """Under a policy whose severity has no emergency target the request stays, with no due time: outcome none."""
    case.emergency_requested_at = entry.at
    target = case.level.emergency
    case.emergency_due_at = target_due(target, calendar, entry.at) if target else None


def resolved(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    _meet_first_response(case, entry.at)
    if case.paused:
        _end_pause(case, entry.at)
    case.state, case.state_before_pause, case.resolved_at = "resolved", None, entry.at
    if case.emergency_due_at and case.emergency_met_at is None:
        case.emergency_met_at = entry.at
    case.pauses.append(PausedSpan(start=entry.at, why="resolved"))


def reopened(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    _end_pause(case, entry.at, "resolved")
    case.state = "responded" if case.responded_at else "open"
    case.resolved_at = None


def closed(case: CaseState, entry: TimelineEntry, calendar: BusinessCalendar) -> None:
    if case.paused:
        _end_pause(case, entry.at)
    case.state, case.closed_at = "closed", entry.at


MOMENTS: dict[str, Callable[[CaseState, TimelineEntry, BusinessCalendar], None]] = {
    "responded": responded,
    "workaround_provided": workaround_provided,
    "severity_changed": severity_changed,
    "paused": paused,
    "resumed": resumed,
    "emergency_requested": emergency_requested,
    "resolved": resolved,
    "reopened": reopened,
    "closed": closed,
}
