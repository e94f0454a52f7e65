"""DESIGN's update table: for each update, when it is legal and what it does to the case.

Each `refuse_*` answers None when the update is legal, or the sentence the
caller sees (the workflow's validator and its handler ask the same
function, so a rejected update leaves the case untouched). Each effect
changes only the `CaseState`: ladders it starts or stops and messages to
the requester are recorded there, and the workflow carries them out.
`UPDATES` at the end is the one list the workflow, the gateway's routes and
the CLI's subcommands are all built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workflows import messages
from workflows.contracts import (
    Acknowledge,
    Amend,
    ApplyPolicy,
    Assign,
    Close,
    Pause,
    ProvideWorkaround,
    Reopen,
    RequestEmergency,
    RequestEscalation,
    Resolve,
    Respond,
    Resume,
    SetSeverity,
    UpdateArgs,
)
from workflows.sla import target_due
from workflows.state import FINISHED, CaseState, PausedSpan, capped, field_value, is_given

PAUSABLE = frozenset({"open", "responded", "workaround_provided"})
WORKAROUND_FROM = frozenset({"open", "responded", "waiting_on_customer"})
RESPONSE_LADDERS = ("response_warning", "response_breach", "emergency_intake")
RESOLUTION_LADDERS = ("resolution_warning", "resolution_breach")


def refuse_unless_active(case: CaseState, update: str) -> str | None:
    if case.state in FINISHED:
        return f"cannot {update}: the case is {case.state}; it must not be resolved or closed"
    return None


def meet_first_response(case: CaseState, now: datetime) -> None:
    if case.responded_at is None:
        case.responded_at = now
        case.settle("response")
        case.stop_ladders(RESPONSE_LADDERS, "responded", now)


def resume_from_pause(case: CaseState, now: datetime, why: str, args: UpdateArgs | None = None) -> None:
    paused_seconds = case.end_pause(now)
    case.state, case.state_before_pause = case.state_before_pause or "responded", None
    case.record(now, "resumed", args.actor if args else None, why=why, paused_seconds=paused_seconds)


# --- respond ---------------------------------------------------------------------------------


def refuse_respond(case: CaseState, args: Respond) -> str | None:
    return refuse_unless_active(case, "respond")


def respond(case: CaseState, args: Respond, now: datetime) -> None:
    first = case.responded_at is None
    meet_first_response(case, now)
    if case.state == "open":
        case.state = "responded"
    case.record(now, "responded", args.actor, by=args.by, first_response=first, message=capped(args.message))
    if args.message:
        case.tell_requester("requester_reply", messages.reply_text(case, args.message))


# --- acknowledge -----------------------------------------------------------------------------


def refuse_acknowledge(case: CaseState, args: Acknowledge) -> str | None:
    return None if case.escalation.running else "cannot acknowledge: no escalation ladder is running"


def acknowledge(case: CaseState, args: Acknowledge, now: datetime) -> None:
    stopped = case.stop_ladders(list(case.escalation.running), "acknowledged", now)
    case.escalation.acknowledged_by = args.by
    case.record(now, "acknowledged", args.actor, by=args.by, ladders=stopped)


# --- assign ----------------------------------------------------------------------------------


def refuse_assign(case: CaseState, args: Assign) -> str | None:
    return "cannot assign: the case is closed" if case.state == "closed" else None


def assign(case: CaseState, args: Assign, now: datetime) -> None:
    case.assignee = args.to
    case.record(now, "assigned", args.actor, to=args.to)


# --- set_severity ----------------------------------------------------------------------------


def refuse_set_severity(case: CaseState, args: SetSeverity) -> str | None:
    if refusal := refuse_unless_active(case, "change severity"):
        return refusal
    if args.severity not in case.policy.severities:
        known = ", ".join(str(s) for s in case.policy.severities)
        return f"cannot change severity: {case.policy.tenant} has no severity {args.severity} (it has {known})"
    if args.severity == case.severity:
        return f"cannot change severity: the case is already severity {args.severity}"
    return None


def set_severity(case: CaseState, args: SetSeverity, now: datetime) -> None:
    """Targets still running are recomputed from `received_at`; met and breached ones keep their due time."""
    before, case.severity = case.severity, args.severity
    case.pass_over_warnings_behind(now)
    case.record(now, "severity_changed", args.actor, **{"from": before, "to": args.severity}, reason=args.reason)


# --- pause and resume ------------------------------------------------------------------------


def refuse_pause(case: CaseState, args: Pause) -> str | None:
    if case.state not in PAUSABLE:
        return f"cannot pause: the case is {case.state}; it must be open, responded or workaround_provided"
    return None


def pause(case: CaseState, args: Pause, now: datetime) -> None:
    case.state_before_pause, case.state = case.state, "waiting_on_customer"
    case.pauses.append(PausedSpan(start=now))
    case.record(now, "paused", args.actor, reason=args.reason)


def refuse_resume(case: CaseState, args: Resume) -> str | None:
    return None if case.paused else f"cannot resume: the case is {case.state}, not waiting_on_customer"


def resume(case: CaseState, args: Resume, now: datetime) -> None:
    resume_from_pause(case, now, "resumed by an engineer", args)


# --- provide_workaround ----------------------------------------------------------------------


def refuse_provide_workaround(case: CaseState, args: ProvideWorkaround) -> str | None:
    if case.state not in WORKAROUND_FROM:
        return (
            f"cannot provide a workaround: the case is {case.state}; it must be open, responded or waiting_on_customer"
        )
    return None


def provide_workaround(case: CaseState, args: ProvideWorkaround, now: datetime) -> None:
    """Where the target lets a workaround stop the clock, one in time meets it; a late one keeps the breach
    but stops the resolution ladders all the same."""
    meet_first_response(case, now)
    if case.paused:
        case.end_pause(now)
        case.state_before_pause = None
    case.state, case.workaround_at = "workaround_provided", now
    target = case.level.resolution
    meets = "resolution" not in case.breaches and case.workaround_meets_resolution()
    if target and target.workaround_stops_clock:
        case.stop_ladders(RESOLUTION_LADDERS, "resolved", now)
    case.record(
        now,
        "workaround_provided",
        args.actor,
        by=args.by,
        kind=args.kind,
        description=capped(args.description),
        meets_resolution_target=meets,
    )


# --- request_escalation and request_emergency ------------------------------------------------


def refuse_request_escalation(case: CaseState, args: RequestEscalation) -> str | None:
    if refusal := refuse_unless_active(case, "request escalation"):
        return refusal
    if "customer_escalation" not in case.policy.escalations:
        return f"cannot request escalation: the {case.policy.tenant} policy has no customer_escalation ladder"
    if "customer_escalation" in case.escalation.running:
        return "cannot request escalation: the customer escalation ladder is already running"
    return None


def request_escalation(case: CaseState, args: RequestEscalation, now: datetime) -> None:
    if args.new_installation is not None:
        case.new_installation = args.new_installation
    case.record(
        now,
        "escalation_requested",
        args.actor,
        reason=capped(args.reason),
        new_installation=case.new_installation,
    )
    case.start_ladder("customer_escalation", now)


def refuse_request_emergency(case: CaseState, args: RequestEmergency) -> str | None:
    if refusal := refuse_unless_active(case, "request emergency maintenance"):
        return refusal
    if case.level.emergency is None:
        level = f"severity {case.severity} ({case.level.name})"
        return f"cannot request emergency maintenance: {level} has no emergency target"
    if case.emergency_requested_at is not None:
        return f"cannot request emergency maintenance: it was already requested at {case.emergency_requested_at.isoformat()}"
    return None


def request_emergency(case: CaseState, args: RequestEmergency, now: datetime) -> None:
    """The emergency clock keeps the target it was requested under, whatever the severity becomes."""
    case.emergency_requested_at, case.emergency_target = now, case.level.emergency
    case.emergency_due_at = target_due(case.level.emergency, case.calendar, now)  # type: ignore[arg-type]
    case.record(
        now, "emergency_requested", args.actor, reason=capped(args.reason), due_at=case.emergency_due_at.isoformat()
    )
    case.start_ladder("emergency_request", now)


# --- amend -----------------------------------------------------------------------------------


def refuse_amend(case: CaseState, args: Amend) -> str | None:
    return "cannot amend: the case is closed" if case.state == "closed" else None


def amend(case: CaseState, args: Amend, now: datetime) -> None:
    given = args.model_dump(exclude_none=True, exclude={"requester", "actor"})
    for name, value in given.items():
        setattr(case, name, value)
    if args.requester is not None:
        new = args.requester.model_dump(exclude_none=True)
        case.requester = case.requester.model_copy(update=new)
        given |= {f"requester.{name}": value for name, value in new.items()}
    case.missing = [field for field in case.missing if not is_given(field_value(case, field))]
    case.record(now, "amended", args.actor, fields=sorted(given), still_missing=case.missing or None)


# --- resolve, reopen, close ------------------------------------------------------------------


def refuse_resolve(case: CaseState, args: Resolve) -> str | None:
    return refuse_unless_active(case, "resolve")


def resolve(case: CaseState, args: Resolve, now: datetime) -> None:
    meet_first_response(case, now)
    case.stop_ladders(list(case.escalation.running), "resolved", now)
    if case.paused:
        case.end_pause(now)
    case.state, case.state_before_pause, case.resolved_at = "resolved", None, now
    case.settle("resolution")
    if case.emergency_due_at and case.emergency_met_at is None:
        case.emergency_met_at = now
        case.settle("emergency")
    case.pauses.append(PausedSpan(start=now, why="resolved"))
    case.record(now, "resolved", args.actor, by=args.by, resolution=capped(args.resolution))
    case.tell_requester("requester_reply", messages.reply_text(case, f"Resolved: {args.resolution}"))


def refuse_reopen(case: CaseState, args: Reopen) -> str | None:
    return (
        None if case.state == "resolved" else f"cannot reopen: the case is {case.state}; only a resolved case reopens"
    )


def reopen(case: CaseState, args: Reopen, now: datetime) -> None:
    """The resolution clock runs again, the time spent resolved credited like a pause."""
    resolved_seconds = case.end_pause(now, "resolved")
    case.state = "responded" if case.responded_at else "open"
    case.resolved_at = None
    if "resolution" not in case.breaches:
        case.settled_due.pop("resolution", None)
    case.record(now, "reopened", args.actor, reason=capped(args.reason), resolved_seconds=resolved_seconds)


def refuse_close(case: CaseState, args: Close) -> str | None:
    if case.state == "closed":
        return "cannot close: the case is already closed"
    if case.state != "resolved" and not args.reason:
        return f"cannot close: the case is {case.state}; resolve it first, or give a reason (spam, duplicate)"
    return None


def close(case: CaseState, args: Close, now: datetime) -> None:
    case.stop_ladders(list(case.escalation.running), "resolved", now)
    if case.paused:
        case.end_pause(now)
    case.state, case.closed_at = "closed", now
    case.record(now, "closed", args.actor, reason=args.reason)


# --- apply_policy ----------------------------------------------------------------------------


def refuse_apply_policy(case: CaseState, args: ApplyPolicy) -> str | None:
    new = args.policy.policy
    if case.state == "closed":
        return "cannot apply a policy: the case is closed"
    if new.tenant != case.policy.tenant:
        return f"cannot apply a policy: it is for tenant {new.tenant!r}, this case is {case.policy.tenant!r}"
    if case.severity not in new.severities:
        return f"cannot apply a policy: it has no severity {case.severity}, which this case has"
    return None


def apply_policy(case: CaseState, args: ApplyPolicy, now: datetime) -> None:
    """Clocks still running are recomputed under the new targets and calendar, pause credit kept."""
    case.loaded = args.policy.model_copy(update={"digest": None})  # an operator's digest is not vouched for
    case.pass_over_warnings_behind(now)
    case.record(now, "policy_applied", args.actor, display_name=args.policy.policy.display_name)


# --- the one list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Update:
    """One contract update: its argument model, its rule and its effect, and how operators reach it."""

    name: str
    model: type[UpdateArgs]
    refuse: Callable[[CaseState, Any], str | None]
    effect: Callable[[CaseState, Any, datetime], None]
    help: str
    aliases: tuple[str, ...] = ()
    scope: str = "operate"  # the gateway scope its route needs
    nested: tuple[str, ...] = ()  # model fields the CLI spells as --field-subfield
    cli: bool = True  # apply_policy goes to every case of a tenant at once, through `supportflow policy apply`

    @property
    def command(self) -> str:
        return self.name.replace("_", "-")


UPDATES: tuple[Update, ...] = (
    Update(
        "respond",
        Respond,
        refuse_respond,
        respond,
        "answer the requester; the first response meets the response target",
    ),
    Update(
        "acknowledge",
        Acknowledge,
        refuse_acknowledge,
        acknowledge,
        "stop every running escalation ladder",
        aliases=("ack",),
    ),
    Update("assign", Assign, refuse_assign, assign, "set the assignee (a contact id or a name)"),
    Update(
        "set_severity",
        SetSeverity,
        refuse_set_severity,
        set_severity,
        "change the severity; unmet targets are recomputed",
        aliases=("severity",),
    ),
    Update("pause", Pause, refuse_pause, pause, "wait on the customer: the resolution clock stops"),
    Update("resume", Resume, refuse_resume, resume, "end the pause; the resolution clock runs again"),
    Update(
        "provide_workaround",
        ProvideWorkaround,
        refuse_provide_workaround,
        provide_workaround,
        "record a workaround or data correction",
        aliases=("workaround",),
    ),
    Update(
        "request_escalation",
        RequestEscalation,
        refuse_request_escalation,
        request_escalation,
        "run the customer escalation ladder",
        aliases=("escalate",),
    ),
    Update(
        "request_emergency",
        RequestEmergency,
        refuse_request_emergency,
        request_emergency,
        "request emergency maintenance (severities with an emergency target)",
        aliases=("emergency",),
    ),
    Update("amend", Amend, refuse_amend, amend, "fill in fields the request lacked", nested=("requester",)),
    Update("resolve", Resolve, refuse_resolve, resolve, "resolve the case; every clock and ladder stops"),
    Update("reopen", Reopen, refuse_reopen, reopen, "reopen a resolved case"),
    Update(
        "close",
        Close,
        refuse_close,
        close,
        "close a resolved case, or any case with a reason (spam, duplicate)",
    ),
    Update(
        "apply_policy",
        ApplyPolicy,
        refuse_apply_policy,
        apply_policy,
        "recompute the clocks under a new policy",
        scope="admin",
        cli=False,
    ),
)
UPDATES_BY_NAME = {update.name: update for update in UPDATES}
