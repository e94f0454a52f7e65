"""A case's recorded moments played again on a fresh `CaseState`, under any policy.

The archived status's timeline says when the case was received, responded
to, given a workaround, paused and resumed, changed severity, asked for
emergency maintenance, resolved, reopened and closed. Each moment runs the
workflow's own update effect (`workflows/updates.py`) on the case, and
between moments the case's own alarms fire its breaches, so every due time,
pause credit and business hour comes from the code the workflow runs.
Under the policy the case ran under, this gives back the recorded
breaches; under another, the ones it would have given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflows import updates
from workflows.contracts import (
    CaseStatus,
    Close,
    Pause,
    ProvideWorkaround,
    Reopen,
    RequestEmergency,
    Resolve,
    Respond,
    Resume,
    SetSeverity,
    TimelineEntry,
)
from workflows.policy import LoadedPolicy
from workflows.state import CaseState

RECORDED = "recorded"


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
        fire_breaches(case, entry.at, inclusive=False)
        moment(case, entry)
        # As the workflow does right after an update changed the case.
        fire_breaches(case, entry.at, inclusive=True)
    end = status.closed_at if status.state == "closed" and status.closed_at else now
    fire_breaches(case, end, inclusive=True)
    return case


def fire_breaches(case: CaseState, until: datetime, *, inclusive: bool) -> None:
    """Every breach the case's own alarms put at or before `until` (strictly before, when not `inclusive`)."""
    while True:
        alarm = next((a for a in case.alarms() if a.kind == "breach"), None)
        if alarm is None or alarm.at > until or (alarm.at == until and not inclusive):
            return
        case.settle(alarm.target)  # type: ignore[arg-type]
        case.breaches.append(alarm.target)  # type: ignore[arg-type]


# --- each recorded moment, as the workflow's update effect ---------------------------------------


def severity_changed(case: CaseState, entry: TimelineEntry) -> None:
    level = int(entry.detail["to"])
    if level not in case.policy.severities:
        raise NotJudgeable(f"{case.case_id} was changed to severity {level}, which the policy does not define")
    if level != case.severity:
        updates.set_severity(case, SetSeverity(severity=level), entry.at)


def emergency_requested(case: CaseState, entry: TimelineEntry) -> None:
    """Under a policy whose severity has no emergency target the request stays, with no due time: outcome none."""
    if case.level.emergency is None:
        case.emergency_requested_at = entry.at
        return
    updates.request_emergency(case, RequestEmergency(reason=RECORDED), entry.at)


def _by(entry: TimelineEntry) -> str:
    return str(entry.detail.get("by") or RECORDED)


MOMENTS: dict[str, Callable[[CaseState, TimelineEntry], None]] = {
    "responded": lambda case, e: updates.respond(case, Respond(by=_by(e)), e.at),
    "workaround_provided": lambda case, e: updates.provide_workaround(
        case, ProvideWorkaround(by=_by(e), description=RECORDED), e.at
    ),
    "severity_changed": severity_changed,
    "paused": lambda case, e: updates.pause(case, Pause(), e.at),
    "resumed": lambda case, e: updates.resume(case, Resume(), e.at) if case.paused else None,
    "emergency_requested": emergency_requested,
    "resolved": lambda case, e: updates.resolve(case, Resolve(by=_by(e), resolution=RECORDED), e.at),
    "reopened": lambda case, e: updates.reopen(case, Reopen(reason=RECORDED), e.at),
    "closed": lambda case, e: updates.close(case, Close(reason=e.detail.get("reason") or RECORDED), e.at),
}
