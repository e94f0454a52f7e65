"""The contract's updates (DESIGN's table), each with a validator that asks `CaseState` the
same question its handler does. A mixin of `SupportCaseWorkflow`."""

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import messages
    from workflows.contracts import (
        Acknowledge,
        Amend,
        ApplyPolicy,
        Assign,
        CaseStatus,
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
    )
    from workflows.policy import LadderName
    from workflows.sla import target_due
    from workflows.state import CaseState, PausedSpan, capped, field_value, is_given

RESPONSE_LADDERS: tuple[LadderName, ...] = ("response_warning", "response_breach", "emergency_intake")
RESOLUTION_LADDERS: tuple[LadderName, ...] = ("resolution_warning", "resolution_breach")


def rejected(reason: str | None) -> None:
    """Reject an update with the sentence the caller sees; the case stays untouched."""
    if reason:
        raise ApplicationError(reason, type="UpdateRejected", non_retryable=True)


class CaseUpdates:
    async def ready(self) -> CaseState:
        await workflow.wait_condition(lambda: self.case is not None)
        return self.case

    def changed_status(self) -> CaseStatus:
        self.act_on_due_alarms()
        self.changed = True
        return self.status()

    def meet_first_response(self) -> None:
        case = self.case
        if case.responded_at is None:
            case.responded_at = workflow.now()
            self.stop_ladders(RESPONSE_LADDERS, "responded")

    def end_pause(self, why: str = "waiting_on_customer") -> float:
        """Close the open paused span; the clock's credit is recomputed from the spans."""
        for span in self.case.pauses:
            if span.end is None and span.why == why:
                span.end = workflow.now()
                return (span.end - span.start).total_seconds()
        return 0.0

    @workflow.update
    async def respond(self, args: Respond) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_respond())
        first = case.responded_at is None
        self.meet_first_response()
        if case.state == "open":
            case.state = "responded"
        case.record(workflow.now(), "responded", by=args.by, first_response=first, message=capped(args.message))
        if args.message:
            self.tell_requester("requester_reply", 0, messages.reply_text(case, args.message))
        return self.changed_status()

    @respond.validator
    def validate_respond(self, args: Respond) -> None:
        rejected(self.case and self.case.refuse_respond())

    @workflow.update
    async def acknowledge(self, args: Acknowledge) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_acknowledge())
        running = list(case.escalation.running)
        self.stop_ladders(running, "acknowledged")
        case.escalation.acknowledged_by = args.by
        case.record(workflow.now(), "acknowledged", by=args.by, ladders=running)
        return self.changed_status()

    @acknowledge.validator
    def validate_acknowledge(self, args: Acknowledge) -> None:
        rejected(self.case and self.case.refuse_acknowledge())

    @workflow.update
    async def assign(self, args: Assign) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_assign())
        case.assignee = args.to
        case.record(workflow.now(), "assigned", to=args.to)
        return self.changed_status()

    @assign.validator
    def validate_assign(self, args: Assign) -> None:
        rejected(self.case and self.case.refuse_assign())

    @workflow.update
    async def set_severity(self, args: SetSeverity) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_set_severity(args.severity))
        before = case.severity
        case.severity = args.severity
        case.pass_over_warnings_behind(workflow.now(), self.calendar)
        case.record(workflow.now(), "severity_changed", **{"from": before, "to": args.severity}, reason=args.reason)
        return self.changed_status()

    @set_severity.validator
    def validate_set_severity(self, args: SetSeverity) -> None:
        rejected(self.case and self.case.refuse_set_severity(args.severity))

    @workflow.update
    async def pause(self, args: Pause) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_pause())
        case.state_before_pause, case.state = case.state, "waiting_on_customer"
        case.pauses.append(PausedSpan(start=workflow.now()))
        case.record(workflow.now(), "paused", reason=args.reason)
        return self.changed_status()

    @pause.validator
    def validate_pause(self, args: Pause) -> None:
        rejected(self.case and self.case.refuse_pause())

    @workflow.update
    async def resume(self, args: Resume) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_resume())
        self.resume_from_pause("resumed by an engineer")
        return self.changed_status()

    @resume.validator
    def validate_resume(self, args: Resume) -> None:
        rejected(self.case and self.case.refuse_resume())

    def resume_from_pause(self, why: str) -> None:
        case = self.case
        paused_seconds = self.end_pause()
        case.state, case.state_before_pause = case.state_before_pause or "responded", None
        case.record(workflow.now(), "resumed", why=why, paused_seconds=paused_seconds)

    @workflow.update
    async def provide_workaround(self, args: ProvideWorkaround) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_provide_workaround())
        now = workflow.now()
        self.meet_first_response()
        if case.paused:
            self.end_pause()
            case.state_before_pause = None
        case.state, case.workaround_at = "workaround_provided", now
        target = case.level.resolution
        meets = False
        if target and target.workaround_stops_clock:
            meets = "resolution" not in case.breaches and now < case.resolution_due_at(self.calendar)
            case.resolution_met_by_workaround = case.resolution_met_by_workaround or meets
            self.stop_ladders(RESOLUTION_LADDERS, "resolved")
        case.record(
            now,
            "workaround_provided",
            by=args.by,
            kind=args.kind,
            description=capped(args.description),
            meets_resolution_target=meets,
        )
        return self.changed_status()

    @provide_workaround.validator
    def validate_provide_workaround(self, args: ProvideWorkaround) -> None:
        rejected(self.case and self.case.refuse_provide_workaround())

    @workflow.update
    async def request_escalation(self, args: RequestEscalation) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_request_escalation())
        if args.new_installation is not None:
            case.new_installation = args.new_installation
        case.record(
            workflow.now(), "escalation_requested", reason=capped(args.reason), new_installation=case.new_installation
        )
        self.start_ladder("customer_escalation")
        await self.let_ladders_take_their_first_step()
        return self.changed_status()

    @request_escalation.validator
    def validate_request_escalation(self, args: RequestEscalation) -> None:
        rejected(self.case and self.case.refuse_request_escalation())

    @workflow.update
    async def request_emergency(self, args: RequestEmergency) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_request_emergency())
        now = workflow.now()
        case.emergency_requested_at = now
        case.emergency_due_at = target_due(case.level.emergency, self.calendar, now)
        case.record(now, "emergency_requested", reason=capped(args.reason), due_at=case.emergency_due_at.isoformat())
        self.start_ladder("emergency_request")
        await self.let_ladders_take_their_first_step()
        return self.changed_status()

    @request_emergency.validator
    def validate_request_emergency(self, args: RequestEmergency) -> None:
        rejected(self.case and self.case.refuse_request_emergency())

    @workflow.update
    async def amend(self, args: Amend) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_amend())
        given = args.model_dump(exclude_none=True, exclude={"requester"})
        for name, value in given.items():
            setattr(case, name, value)
        if args.requester is not None:
            new = args.requester.model_dump(exclude_none=True)
            case.requester = case.requester.model_copy(update=new)
            given |= {f"requester.{name}": value for name, value in new.items()}
        case.missing = [field for field in case.missing if not is_given(field_value(case, field))]
        case.record(workflow.now(), "amended", fields=sorted(given), still_missing=case.missing or None)
        return self.changed_status()

    @amend.validator
    def validate_amend(self, args: Amend) -> None:
        rejected(self.case and self.case.refuse_amend())

    @workflow.update
    async def resolve(self, args: Resolve) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_resolve())
        now = workflow.now()
        self.meet_first_response()
        self.stop_ladders(list(self.ladders), "resolved")
        if case.paused:
            self.end_pause()
        case.state, case.state_before_pause, case.resolved_at = "resolved", None, now
        if case.emergency_due_at and case.emergency_met_at is None:
            case.emergency_met_at = now
        case.pauses.append(PausedSpan(start=now, why="resolved"))
        case.record(now, "resolved", by=args.by, resolution=capped(args.resolution))
        self.tell_requester("requester_reply", 0, messages.reply_text(case, f"Resolved: {args.resolution}"))
        return self.changed_status()

    @resolve.validator
    def validate_resolve(self, args: Resolve) -> None:
        rejected(self.case and self.case.refuse_resolve())

    @workflow.update
    async def reopen(self, args: Reopen) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_reopen())
        resolved_seconds = self.end_pause("resolved")
        case.state = "responded" if case.responded_at else "open"
        case.resolved_at = None
        case.record(workflow.now(), "reopened", reason=capped(args.reason), resolved_seconds=resolved_seconds)
        return self.changed_status()

    @reopen.validator
    def validate_reopen(self, args: Reopen) -> None:
        rejected(self.case and self.case.refuse_reopen())

    @workflow.update
    async def close(self, args: Close) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_close(args.reason))
        self.close_case(args.reason)
        return self.changed_status()

    @close.validator
    def validate_close(self, args: Close) -> None:
        rejected(self.case and self.case.refuse_close(args.reason))

    def close_case(self, reason: str | None) -> None:
        case = self.case
        self.stop_ladders(list(self.ladders), "resolved")
        if case.paused:
            self.end_pause()
        case.state, case.closed_at = "closed", workflow.now()
        case.record(workflow.now(), "closed", reason=reason)
        self.changed = True

    @workflow.update
    async def apply_policy(self, args: ApplyPolicy) -> CaseStatus:
        case = await self.ready()
        rejected(case.refuse_apply_policy(args.policy))
        case.loaded = args.policy.model_copy(
            update={"digest": None}
        )  # an operator's digest is not vouched for: unshared
        self.calendar = case.loaded.business_calendar()
        case.pass_over_warnings_behind(workflow.now(), self.calendar)
        case.record(workflow.now(), "policy_applied", display_name=args.policy.policy.display_name)
        return self.changed_status()

    @apply_policy.validator
    def validate_apply_policy(self, args: ApplyPolicy) -> None:
        rejected(self.case and self.case.refuse_apply_policy(args.policy))
