"""What-if: the archived cases' recorded moments under a proposed policy's targets and calendar.

Each case is replayed (archive/replay.py) on a `CaseState` holding the
proposed policy, so its due times, business hours and pause credit come
from the workflow's own code, and then judged like the report judges
(archive/outcomes.py). With the policy the cases ran under, every outcome
is the recorded one. Decision 4: an outcome is `none` where the proposed
policy has no such target, open cases are judged as of `now`, and cases
that had `policy_applied` are evaluated like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from archive.outcomes import Judged, judge
from archive.replay import NotJudgeable, replay
from archive.report import in_window
from workflows.contracts import CaseStatus, Outcome, OutcomeChange, SimulatedTarget, TargetName, WhatIf
from workflows.policy import LoadedPolicy

TARGETS: tuple[TargetName, ...] = ("response", "resolution", "emergency")


def proposed_outcomes(status: CaseStatus, proposed: LoadedPolicy, now: datetime) -> dict[TargetName, Judged]:
    """The case's targets as the proposed policy would have judged them."""
    try:
        case = replay(status, proposed, now)
    except NotJudgeable:
        return {target: Judged("none") for target in judge(status)}
    return judge(case.status())


def simulate(
    statuses: Iterable[CaseStatus], proposed: LoadedPolicy, start: date, end: date, timezone: str, now: datetime
) -> WhatIf:
    """Recorded against proposed breaches per final severity and target, and every case whose outcome changes.

    `timezone` sets the window (the tenant's own, so a what-if covers the report's cases)."""
    counted = in_window(statuses, proposed.policy.tenant, start, end, timezone)
    rows: dict[tuple[int, TargetName], SimulatedTarget] = {}
    changed: list[OutcomeChange] = []
    for status in counted:
        recorded = judge(status)
        proposed_now = proposed_outcomes(status, proposed, now)
        for target in TARGETS:
            before: Outcome | None = recorded[target].outcome if target in recorded else None
            after: Outcome | None = proposed_now[target].outcome if target in proposed_now else None
            if before is None and after is None:
                continue  # emergency, never asked for
            before, after = before or "none", after or "none"
            row = rows.setdefault(
                (status.severity, target),
                SimulatedTarget(
                    severity=status.severity, target=target, cases=0, recorded_breaches=0, proposed_breaches=0
                ),
            )
            row.cases += 1
            row.recorded_breaches += before == "breached"
            row.proposed_breaches += after == "breached"
            if before != after:
                changed.append(OutcomeChange(case_id=status.case_id, target=target, recorded=before, proposed=after))
    ordered = [rows[key] for key in sorted(rows, key=lambda key: (key[0], TARGETS.index(key[1])))]
    return WhatIf(tenant=proposed.policy.tenant, from_=start, to=end, targets=ordered, changed=changed)
