"""What a case is: its clocks, its timeline, its ladders' progress and the view others read. No Temporal in it.

`CaseState` is carried across continue-as-new. What each update may do, and
does, lives in `workflows/updates.py`; this module answers the questions
they ask ("when is resolution due?", "is the response met?") and keeps the
bookkeeping every change shares (the timeline, ladder starts and ends, the
messages waiting to go to the requester).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from workflows.calendar import BusinessCalendar
from workflows.contracts import (
    COMMENT_LIMIT,
    Actor,
    CaseRequest,
    CaseStateName,
    CaseStatus,
    Delivery,
    Escalation,
    LadderOutcome,
    Requester,
    TimelineEntry,
    TimelineEvent,
)
from workflows.durations import parse_duration
from workflows.policy import LoadedPolicy, Policy, Severity, Target, TargetName
from workflows.sla import Span, target_due

FINISHED: frozenset[str] = frozenset({"resolved", "closed"})
TARGETS: tuple[TargetName, ...] = ("response", "resolution", "emergency")


class PausedSpan(BaseModel):
    """Time the resolution clock stood still: waiting on the customer, or resolved before a reopen."""

    start: datetime
    end: datetime | None = None
    why: Literal["waiting_on_customer", "resolved"] = "waiting_on_customer"


class Alarm(BaseModel):
    """A moment the case must act at: a warning, a breach, or the auto-close."""

    at: datetime
    kind: Literal["warning", "breach", "auto_close"]
    target: TargetName | None = None
    fraction: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.target}:{self.fraction}"

    @property
    def summary(self) -> str:
        what = f"{self.target} {self.kind}" if self.target else "auto-close"
        return f"{what} at {self.at.isoformat()}"


class LadderProgress(BaseModel):
    """Where one running ladder is: its run number (for idempotency keys), step and round."""

    run: int
    step: int = 0
    round: int = 0


class CaseState(BaseModel):
    case_id: str
    loaded: LoadedPolicy
    state: CaseStateName = "open"
    state_before_pause: CaseStateName | None = None
    channel: str
    severity: int
    requester: Requester
    requester_email_key: str | None = None
    subject: str | None = None
    description: str | None = None
    recording_url: str | None = None
    time_critical: bool = False
    new_installation: bool = False
    existing_case: str | None = None
    worked_with: str | None = None
    assignee: str | None = None
    received_at: datetime
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    workaround_at: datetime | None = None
    emergency_requested_at: datetime | None = None
    emergency_target: Target | None = None  # the target the request was given; severity changes never move it
    emergency_due_at: datetime | None = None
    emergency_met_at: datetime | None = None
    closed_at: datetime | None = None
    settled_due: dict[TargetName, datetime] = Field(
        default_factory=dict
    )  # the due time a met or breached target was judged against
    pauses: list[PausedSpan] = Field(default_factory=list)
    breaches: list[TargetName] = Field(default_factory=list)
    warnings: list[TargetName] = Field(default_factory=list)
    warnings_done: list[str] = Field(default_factory=list)  # "target:fraction", fired or passed over
    missing: list[str] = Field(default_factory=list)
    phi_redacted: bool = False
    escalation: Escalation = Field(default_factory=Escalation)
    ladders: dict[str, LadderProgress] = Field(default_factory=dict)  # the running ladders, oldest first
    ladder_runs: dict[str, int] = Field(default_factory=dict)  # starts per ladder name, carried across continue-as-new
    replies_sent: int = 0
    comment_ids: list[str] = Field(default_factory=list)
    outgoing: list[Delivery] = Field(
        default_factory=list
    )  # messages to the requester, waiting for the workflow to send them
    timeline: list[TimelineEntry] = Field(default_factory=list)

    # --- reading the policy ---------------------------------------------------

    @property
    def policy(self) -> Policy:
        return self.loaded.policy

    @property
    def calendar(self) -> BusinessCalendar:
        return self.loaded.business_calendar()

    @property
    def level(self) -> Severity:
        return self.policy.severity(self.severity)

    @property
    def paused(self) -> bool:
        return self.state == "waiting_on_customer"

    @property
    def requester_index(self) -> str | None:
        """RequesterEmail's value: the address, or its keyed hash when payloads are encrypted."""
        return self.requester_email_key or ((self.requester.email or "").lower() or None)

    def record(self, at: datetime, event: TimelineEvent, actor: Actor | None = None, **detail: object) -> None:
        if actor is not None:
            detail["actor"] = actor.model_dump()
        self.timeline.append(
            TimelineEntry(at=at, event=event, detail={k: v for k, v in detail.items() if v is not None})
        )

    # --- the clocks -----------------------------------------------------------

    def closed_pauses(self) -> list[Span]:
        return [(p.start, p.end) for p in self.pauses if p.end is not None]

    def target(self, which: TargetName) -> Target | None:
        """The target a clock counts: the current severity's, but an emergency keeps the one it was requested with."""
        if which == "emergency":
            return self.emergency_target
        return getattr(self.level, which)

    def computed_due(self, which: TargetName, fraction: float = 1.0) -> datetime | None:
        """When `fraction` of the target will have run under the current severity and calendar."""
        target = self.target(which)
        if target is None:
            return None
        if which == "response":
            return target_due(target, self.calendar, self.received_at, (), fraction)
        if which == "resolution":
            # An open pause is not credited yet: the deadline keeps its value until resume.
            return target_due(target, self.calendar, self.received_at, self.closed_pauses(), fraction)
        if fraction == 1.0 and self.emergency_due_at is not None:
            return self.emergency_due_at
        assert self.emergency_requested_at is not None
        return target_due(target, self.calendar, self.emergency_requested_at, (), fraction)

    def due_at(self, which: TargetName) -> datetime | None:
        """The due time shown: a met or breached target keeps the one it was judged against."""
        return self.settled_due.get(which) or self.computed_due(which)

    def settle(self, which: TargetName) -> None:
        """Keep the due time a target was just met or breached against, whatever changes later."""
        due = self.computed_due(which)
        if due is not None and which not in self.settled_due:
            self.settled_due[which] = due

    def ladder_due(self, ladder: str) -> datetime | None:
        """The deadline a ladder is about (`response_breach` → the response's), for its pages."""
        clock = ladder.split("_")[0]
        return self.due_at(clock) if clock in TARGETS else None  # type: ignore[arg-type]

    def workaround_meets_resolution(self) -> bool:
        """Only while the current severity's target lets a workaround stop the clock, and it came in time."""
        target = self.level.resolution
        if self.workaround_at is None or target is None or not target.workaround_stops_clock:
            return False
        due = self.computed_due("resolution")
        return due is not None and self.workaround_at < due

    def resolution_met_at(self) -> datetime | None:
        return self.workaround_at if self.workaround_meets_resolution() else self.resolved_at

    def met(self, which: TargetName) -> bool:
        if which == "response":
            return self.responded_at is not None
        if which == "resolution":
            return self.state in FINISHED or self.workaround_meets_resolution()
        return self.emergency_met_at is not None

    def clock_running(self, which: TargetName) -> bool:
        """A target still counting towards a breach."""
        if which in self.breaches or self.state == "closed" or self.target(which) is None or self.met(which):
            return False
        if which == "emergency":
            return self.emergency_requested_at is not None
        return not (which == "resolution" and self.paused)

    def alarms(self) -> list[Alarm]:
        """Every moment still ahead of the case, earliest first."""
        alarms: list[Alarm] = []
        for which in TARGETS:
            if not self.clock_running(which):
                continue
            due = self.computed_due(which)
            assert due is not None
            alarms.append(Alarm(at=due, kind="breach", target=which))
            for fraction in self.policy.warn_at:
                warning = Alarm(at=self.computed_due(which, fraction), kind="warning", target=which, fraction=fraction)
                if warning.key not in self.warnings_done:
                    alarms.append(warning)
        if self.state == "resolved" and self.resolved_at:
            alarms.append(Alarm(at=self.resolved_at + parse_duration(self.policy.auto_close_after), kind="auto_close"))
        return sorted(alarms, key=lambda a: (a.at, a.kind != "breach"))

    def next_alarm(self) -> Alarm | None:
        return next(iter(self.alarms()), None)

    def pass_over_warnings_behind(self, now: datetime) -> None:
        """After a recompute, a warning fires only if its new moment is still ahead, and at most once."""
        for alarm in self.alarms():
            if alarm.kind == "warning" and alarm.at <= now:
                self.warnings_done.append(alarm.key)

    def end_pause(self, now: datetime, why: str = "waiting_on_customer") -> float:
        """Close the open paused span; the clock's credit is recomputed from the spans."""
        for span in self.pauses:
            if span.end is None and span.why == why:
                span.end = now
                return (span.end - span.start).total_seconds()
        return 0.0

    # --- ladders (the workflow runs them; the case keeps their record) ------------------------

    def start_ladder(self, name: str, now: datetime) -> bool:
        """Record a ladder's start; False when the policy has no such ladder or it is already running."""
        if name not in self.policy.escalations:
            return False
        if name in self.ladders:
            self.record(now, "ladder_started", ladder=name, ignored="already running")
            return False
        run = self.ladder_runs[name] = self.ladder_runs.get(name, 0) + 1
        self.ladders[name] = LadderProgress(run=run)
        escalation = self.escalation
        escalation.ladder, escalation.step, escalation.round = name, 0, 0  # type: ignore[assignment]
        escalation.outcome, escalation.acknowledged_by = None, None
        escalation.running.append(name)  # type: ignore[arg-type]
        self.record(now, "ladder_started", ladder=name, run=run)
        return True

    def reach_step(self, name: str, step: int, round_: int, skipped: bool, now: datetime) -> None:
        progress = self.ladders[name]
        progress.step, progress.round = step, round_
        self.record(now, "step_skipped" if skipped else "step_started", ladder=name, step=step, round=round_)
        if self.escalation.running and self.escalation.running[-1] == name:
            self.escalation.step, self.escalation.round = step, round_

    def end_ladder(self, name: str, outcome: LadderOutcome, now: datetime) -> None:
        progress = self.ladders.pop(name, None)
        if progress is None:
            return
        escalation = self.escalation
        escalation.running.remove(name)  # type: ignore[arg-type]
        self.record(
            now,
            "ladder_ended",
            ladder=name,
            run=progress.run,
            outcome=outcome,
            step=progress.step,
            round=progress.round,
        )
        if escalation.running:
            latest = escalation.running[-1]
            escalation.ladder, escalation.step, escalation.round = latest, *self._at(latest)  # type: ignore[assignment]
        else:
            escalation.ladder, escalation.step, escalation.outcome = name, 0, outcome  # type: ignore[assignment]

    def stop_ladders(self, names: list[str] | tuple[str, ...], outcome: LadderOutcome, now: datetime) -> list[str]:
        stopped = [name for name in names if name in self.ladders]
        for name in stopped:
            self.end_ladder(name, outcome, now)
        return stopped

    def _at(self, name: str) -> tuple[int, int]:
        progress = self.ladders[name]
        return progress.step, progress.round

    # --- messages to the requester ------------------------------------------------------------

    def requester_channel(self) -> str | None:
        return "email" if self.requester.email else "sms" if self.requester.phone else None

    def tell_requester(self, ladder: str, text: str) -> bool:
        """Queue a message to the requester; False when they left no email or phone to reach them at."""
        channel = self.requester_channel()
        if channel is None:
            return False
        if ladder == "requester_reply":
            self.replies_sent += 1
        run = self.replies_sent if ladder == "requester_reply" else 0
        address = self.requester.email if channel == "email" else self.requester.phone
        self.outgoing.append(
            Delivery(
                case_id=self.case_id,
                tenant=self.policy.tenant,
                ladder=ladder,
                run=run,
                contact="requester",
                channel=channel,  # type: ignore[arg-type]
                address=address or "",
                case_channel=self.channel,  # type: ignore[arg-type]
                subject=f"[{self.case_id}] {self.subject or self.policy.display_name}",
                message=text,
                idempotency_key=f"{self.case_id}:{ladder}:{run}:0:0:requester:{channel}",
            )
        )
        return True

    # --- the view others read ---------------------------------------------------

    def status(self) -> CaseStatus:
        tz = self.calendar.tz

        def local(moment: datetime | None) -> datetime | None:
            return moment.astimezone(tz) if moment else None

        breach_ahead = [alarm for alarm in self.alarms() if alarm.kind == "breach"]
        response_due = self.due_at("response")
        assert response_due is not None
        return CaseStatus(
            case_id=self.case_id,
            tenant=self.policy.tenant,
            state=self.state,
            channel=self.channel,  # type: ignore[arg-type]
            subject=self.subject,
            description=self.description,
            requester=self.requester,
            assignee=self.assignee,
            severity=self.severity,
            severity_name=self.level.name,
            time_critical=self.time_critical,
            new_installation=self.new_installation,
            received_at=local(self.received_at),  # type: ignore[arg-type]
            response_due_at=local(response_due),  # type: ignore[arg-type]
            responded_at=local(self.responded_at),
            resolution_due_at=local(self.due_at("resolution")),
            resolved_at=local(self.resolved_at),
            workaround_at=local(self.workaround_at),
            emergency_requested_at=local(self.emergency_requested_at),
            emergency_due_at=local(self.emergency_due_at),
            paused=self.paused,
            breaches=self.breaches,
            warnings=self.warnings,
            missing=self.missing,
            phi_redacted=self.phi_redacted,
            escalation=self.escalation,
            timeline=self.timeline,
            next_due_at=local(breach_ahead[0].at) if breach_ahead else None,
            closed_at=local(self.closed_at),
            resolution_met_at=local(self.resolution_met_at()),
            emergency_met_at=local(self.emergency_met_at),
            recording_url=self.recording_url,
        )


def field_value(case: CaseState | CaseRequest, field: str) -> object:
    """A `intake.required` entry's value, on a case or on the request that opens one."""
    if field.startswith("requester."):
        return getattr(case.requester, field.removeprefix("requester."))
    return getattr(case, field)


def is_given(value: object) -> bool:
    """Whitespace is not an answer: the gateway and the workflow agree on what is missing."""
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def missing_fields(case: CaseState | CaseRequest, policy: Policy) -> list[str]:
    """The policy's `intake.required` entries left empty (blank counts), in policy order."""
    return [field for field in policy.intake.required if not is_given(field_value(case, field))]


def capped(text: str | None, limit: int = COMMENT_LIMIT) -> str | None:
    """Timeline text is capped; the full text stays in the signal's or update's history event."""
    if text is None or len(text.encode()) <= limit:
        return text
    return text.encode()[:limit].decode(errors="ignore") + "…"


def lateness(now: datetime, due: datetime) -> float:
    return max((now - due) / timedelta(seconds=1), 0.0)
