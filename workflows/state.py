"""What a case is, and what is legal when (DESIGN's update table), with no Temporal in it.

`CaseState` is carried across continue-as-new. Each `refuse_*` answers None
when an update is legal, or the sentence a caller sees when it is not; the
workflow's validator and handler both ask the same function.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from workflows.calendar import BusinessCalendar
from workflows.contracts import (
    COMMENT_LIMIT,
    CaseRequest,
    CaseStateName,
    CaseStatus,
    Escalation,
    Requester,
    TargetName,
    TimelineEntry,
    TimelineEvent,
)
from workflows.durations import parse_duration
from workflows.policy import LoadedPolicy, Policy, Severity, Target
from workflows.sla import Span, target_due

FINISHED: frozenset[str] = frozenset({"resolved", "closed"})
PAUSABLE: frozenset[str] = frozenset({"open", "responded", "workaround_provided"})
WORKAROUND_FROM: frozenset[str] = frozenset({"open", "responded", "waiting_on_customer"})
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
    time_critical: bool = False
    new_installation: bool = False
    existing_case: str | None = None
    worked_with: str | None = None
    assignee: str | None = None
    received_at: datetime
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    workaround_at: datetime | None = None
    resolution_met_by_workaround: bool = False
    emergency_requested_at: datetime | None = None
    emergency_due_at: datetime | None = None
    emergency_met_at: datetime | None = None
    closed_at: datetime | None = None
    pauses: list[PausedSpan] = []
    breaches: list[TargetName] = []
    warnings: list[TargetName] = []
    warnings_done: list[str] = []  # "target:fraction", fired or passed over
    missing: list[str] = []
    phi_redacted: bool = False
    escalation: Escalation = Escalation()
    ladder_runs: dict[str, int] = {}
    ladder_rounds: dict[str, int] = {}
    replies_sent: int = 0
    comment_ids: list[str] = []
    timeline: list[TimelineEntry] = []

    # --- reading the policy ---------------------------------------------------

    @property
    def policy(self) -> Policy:
        return self.loaded.policy

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

    def record(self, at: datetime, event: TimelineEvent, **detail: object) -> None:
        self.timeline.append(
            TimelineEntry(at=at, event=event, detail={k: v for k, v in detail.items() if v is not None})
        )

    # --- the clocks -----------------------------------------------------------

    def closed_pauses(self) -> list[Span]:
        return [(p.start, p.end) for p in self.pauses if p.end is not None]

    def response_due_at(self, calendar: BusinessCalendar) -> datetime:
        return target_due(self.level.response, calendar, self.received_at)

    def resolution_due_at(self, calendar: BusinessCalendar) -> datetime | None:
        """An open pause is not credited yet: the deadline keeps its value until resume."""
        target = self.level.resolution
        return target_due(target, calendar, self.received_at, self.closed_pauses()) if target else None

    def resolution_met_at(self, calendar: BusinessCalendar) -> datetime | None:
        """Decision 3: the first workaround, when the current severity's resolution target stops for one and it
        came before the due time; otherwise the resolution."""
        target = self.level.resolution
        if target is None:
            return None
        if target.workaround_stops_clock and self.workaround_at is not None:
            first = next((e.at for e in self.timeline if e.event == "workaround_provided"), self.workaround_at)
            due = self.resolution_due_at(calendar)
            if due is not None and first < due:
                return first
        return self.resolved_at

    def response_met(self) -> bool:
        return self.responded_at is not None

    def resolution_met(self) -> bool:
        return self.resolution_met_by_workaround or self.state in FINISHED

    def clock_running(self, target: TargetName) -> bool:
        """A target still counting towards a breach."""
        if target in self.breaches or self.state == "closed":
            return False
        if target == "response":
            return not self.response_met()
        if target == "resolution":
            return self.level.resolution is not None and not self.resolution_met() and not self.paused
        return self.emergency_due_at is not None and self.emergency_met_at is None

    def alarms(self, calendar: BusinessCalendar) -> list[Alarm]:
        """Every moment still ahead of the case, earliest first."""
        alarms: list[Alarm] = []
        for target in TARGETS:
            if not self.clock_running(target):
                continue
            spec, start, pauses = self._clock_inputs(target)
            if spec is None or start is None:
                continue
            alarms.append(Alarm(at=self.due_at(target, calendar), kind="breach", target=target))
            for fraction in self.policy.warn_at:
                alarm = Alarm(
                    at=target_due(spec, calendar, start, pauses, fraction),
                    kind="warning",
                    target=target,
                    fraction=fraction,
                )
                if alarm.key not in self.warnings_done:
                    alarms.append(alarm)
        if self.state == "resolved" and self.resolved_at:
            alarms.append(Alarm(at=self.resolved_at + parse_duration(self.policy.auto_close_after), kind="auto_close"))
        return sorted(alarms, key=lambda a: (a.at, a.kind != "breach"))

    def due_at(self, target: TargetName, calendar: BusinessCalendar) -> datetime:
        if target == "response":
            return self.response_due_at(calendar)
        if target == "resolution":
            due = self.resolution_due_at(calendar)
            assert due is not None
            return due
        assert self.emergency_due_at is not None
        return self.emergency_due_at

    def _clock_inputs(self, target: TargetName) -> tuple[Target | None, datetime | None, list[Span]]:
        if target == "response":
            return self.level.response, self.received_at, []
        if target == "resolution":
            return self.level.resolution, self.received_at, self.closed_pauses()
        return self.level.emergency, self.emergency_requested_at, []

    def pass_over_warnings_behind(self, now: datetime, calendar: BusinessCalendar) -> None:
        """After a recompute, a warning fires only if its new moment is still ahead."""
        for alarm in self.alarms(calendar):
            if alarm.kind == "warning" and alarm.at <= now:
                self.warnings_done.append(alarm.key)

    # --- what is legal when -----------------------------------------------------

    def refuse_unless_active(self, update: str) -> str | None:
        if self.state in FINISHED:
            return f"cannot {update}: the case is {self.state}; it must not be resolved or closed"
        return None

    def refuse_respond(self) -> str | None:
        return self.refuse_unless_active("respond")

    def refuse_acknowledge(self) -> str | None:
        if not self.escalation.running:
            return "cannot acknowledge: no escalation ladder is running"
        return None

    def refuse_assign(self) -> str | None:
        return "cannot assign: the case is closed" if self.state == "closed" else None

    def refuse_set_severity(self, level: int) -> str | None:
        if refusal := self.refuse_unless_active("change severity"):
            return refusal
        if level not in self.policy.severities:
            known = ", ".join(str(s) for s in self.policy.severities)
            return f"cannot change severity: {self.policy.tenant} has no severity {level} (it has {known})"
        if level == self.severity:
            return f"cannot change severity: the case is already severity {level}"
        return None

    def refuse_pause(self) -> str | None:
        if self.state not in PAUSABLE:
            return f"cannot pause: the case is {self.state}; it must be open, responded or workaround_provided"
        return None

    def refuse_resume(self) -> str | None:
        return None if self.paused else f"cannot resume: the case is {self.state}, not waiting_on_customer"

    def refuse_provide_workaround(self) -> str | None:
        if self.state not in WORKAROUND_FROM:
            return (
                f"cannot provide a workaround: the case is {self.state}; "
                "it must be open, responded or waiting_on_customer"
            )
        return None

    def refuse_request_escalation(self) -> str | None:
        if refusal := self.refuse_unless_active("request escalation"):
            return refusal
        if "customer_escalation" not in self.policy.escalations:
            return f"cannot request escalation: the {self.policy.tenant} policy has no customer_escalation ladder"
        if "customer_escalation" in self.escalation.running:
            return "cannot request escalation: the customer escalation ladder is already running"
        return None

    def refuse_request_emergency(self) -> str | None:
        if refusal := self.refuse_unless_active("request emergency maintenance"):
            return refusal
        if self.level.emergency is None:
            return f"cannot request emergency maintenance: severity {self.severity} ({self.level.name}) has no emergency target"
        if self.emergency_requested_at is not None:
            return f"cannot request emergency maintenance: it was already requested at {self.emergency_requested_at.isoformat()}"
        return None

    def refuse_amend(self) -> str | None:
        return "cannot amend: the case is closed" if self.state == "closed" else None

    def refuse_resolve(self) -> str | None:
        return self.refuse_unless_active("resolve")

    def refuse_reopen(self) -> str | None:
        return (
            None
            if self.state == "resolved"
            else f"cannot reopen: the case is {self.state}; only a resolved case reopens"
        )

    def refuse_close(self, reason: str | None) -> str | None:
        if self.state == "closed":
            return "cannot close: the case is already closed"
        if self.state != "resolved" and not reason:
            return f"cannot close: the case is {self.state}; resolve it first, or give a reason (spam, duplicate)"
        return None

    def refuse_apply_policy(self, loaded: LoadedPolicy) -> str | None:
        if self.state == "closed":
            return "cannot apply a policy: the case is closed"
        if loaded.policy.tenant != self.policy.tenant:
            return (
                f"cannot apply a policy: it is for tenant {loaded.policy.tenant!r}, this case is {self.policy.tenant!r}"
            )
        if self.severity not in loaded.policy.severities:
            return f"cannot apply a policy: it has no severity {self.severity}, which this case has"
        return None

    # --- the view others read ---------------------------------------------------

    def status(self, calendar: BusinessCalendar) -> CaseStatus:
        tz = calendar.tz
        local = lambda t: t.astimezone(tz) if t else None  # noqa: E731
        resolution_due = self.resolution_due_at(calendar)
        ahead = [a for a in self.alarms(calendar) if a.kind == "breach"]
        return CaseStatus(
            case_id=self.case_id,
            tenant=self.policy.tenant,
            state=self.state,
            channel=self.channel,  # type: ignore[arg-type]
            subject=self.subject,
            requester=self.requester,
            assignee=self.assignee,
            severity=self.severity,
            severity_name=self.level.name,
            time_critical=self.time_critical,
            new_installation=self.new_installation,
            received_at=local(self.received_at),
            response_due_at=local(self.response_due_at(calendar)),
            responded_at=local(self.responded_at),
            resolution_due_at=local(resolution_due),
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
            next_due_at=local(ahead[0].at) if ahead else None,
            closed_at=local(self.closed_at),
            resolution_met_at=local(self.resolution_met_at(calendar)),
            emergency_met_at=local(self.emergency_met_at),
        )


def open_case(case_id: str, request: CaseRequest, loaded: LoadedPolicy, received_at: datetime) -> CaseState:
    """The state a new case starts in; what the request lacks is listed, never refused."""
    policy = loaded.policy
    severity = policy.severity_for(request.channel, request.severity)
    if severity not in policy.severities:
        severity = policy.default_severity
    case = CaseState(
        case_id=case_id,
        loaded=loaded,
        channel=request.channel,
        severity=severity,
        requester=request.requester,
        requester_email_key=request.requester_email_key,
        subject=request.subject,
        description=request.description,
        time_critical=request.time_critical,
        new_installation=request.new_installation,
        existing_case=request.existing_case,
        worked_with=request.worked_with,
        received_at=received_at,
        phi_redacted=request.phi_redacted,
    )
    case.missing = [field for field in policy.intake.required if not is_given(field_value(case, field))]
    return case


def field_value(case: CaseState | CaseRequest, field: str) -> object:
    """A `intake.required` entry's value, on a case or on the request that opens one."""
    if field.startswith("requester."):
        return getattr(case.requester, field.removeprefix("requester."))
    return getattr(case, field)


def is_given(value: object) -> bool:
    """Whitespace is not an answer: the gateway and the workflow agree on what is missing."""
    return bool(value.strip()) if isinstance(value, str) else bool(value)


def capped(text: str | None, limit: int = COMMENT_LIMIT) -> str | None:
    """Timeline text is capped; the full text stays in the signal's or update's history event."""
    if text is None or len(text.encode()) <= limit:
        return text
    return text.encode()[:limit].decode(errors="ignore") + "…"


def lateness(now: datetime, due: datetime) -> float:
    return max((now - due) / timedelta(seconds=1), 0.0)
