"""Judging one case's targets from its status (DESIGN "SLA report", Decision 3), for reports and what-if alike.

A target is `breached` when a breach was recorded (a recorded breach wins
over a later meeting), `met` when its moment came on or before its due
time, and `pending` otherwise; `none` when the case's policy had no such
target. A target met after its due time with no breach recorded (a worker
was down at the deadline) is `breached` too: it was late. Emergency is
judged only for cases that asked for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from workflows.contracts import CaseStatus, Outcome, TargetName

EXCLUDED_CLOSES = frozenset({"spam", "duplicate"})
FIRST_WORD = re.compile(r"\W*([^\W\d_]+)")  # "Spam: …", "duplicate of case-…", "(spam)"


@dataclass(frozen=True)
class Judged:
    outcome: Outcome
    start: datetime | None = None  # when the target's clock started
    done: datetime | None = None  # when it was met, or completed late


def judge(status: CaseStatus) -> dict[TargetName, Judged]:
    """Each target that applies to the case; emergency only when it was requested."""
    judged: dict[TargetName, Judged] = {
        "response": _judged(status, "response", status.received_at, status.response_due_at, status.responded_at),
        "resolution": _judged(
            status, "resolution", status.received_at, status.resolution_due_at, status.resolution_met_at
        ),
    }
    if status.emergency_requested_at is not None:
        judged["emergency"] = _judged(
            status, "emergency", status.emergency_requested_at, status.emergency_due_at, status.emergency_met_at
        )
    return judged


def _judged(
    status: CaseStatus, target: TargetName, start: datetime, due: datetime | None, done: datetime | None
) -> Judged:
    if due is None:
        return Judged("none")
    if target in status.breaches or (done is not None and done > due):
        return Judged("breached", start, done)
    if done is not None:
        return Judged("met", start, done)
    return Judged("pending", start)


def left_out(status: CaseStatus) -> bool:
    """A case closed as spam or a duplicate: the first word of its close reason, lower-cased, says so."""
    if status.state != "closed":
        return False
    closes = [entry for entry in status.timeline if entry.event == "closed"]
    reason = str(closes[-1].detail.get("reason") or "") if closes else ""
    first = FIRST_WORD.match(reason)
    return first is not None and first.group(1).lower() in EXCLUDED_CLOSES
