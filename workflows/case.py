"""SupportCase: one support case, from intake to close.

Deadlines are timers; escalation is a ladder of delivery activities. The
rules of what is legal when live in `workflows/state.py`; this class wires
them to Temporal: the clock loop, the updates, the ladders and deliveries.
"""


import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from workflows import messages, metrics
    from workflows import search_attributes as sa
    from workflows.calendar import BusinessCalendar
    from workflows.contracts import (
        Acknowledge,
        Amend,
        ApplyPolicy,
        Assign,
        CaseRequest,
        CaseStatus,
        Close,
        Comment,
        Delivery,
        DeliveryResult,
        Pause,
        ProvideWorkaround,
        Reopen,
        RequestEmergency,
        RequestEscalation,
        Resolve,
        Respond,
        Resume,
        SetSeverity,
        TargetName,
    )
    from workflows.delivery_policy import (
        DELIVER_ACTIVITY,
        DELIVERY_RETRY,
        DELIVERY_SCHEDULE_TO_CLOSE,
        DELIVERY_START_TO_CLOSE,
        delivery_failure,
    )
    from workflows.ladder import LadderRun
    from workflows.policy import ASSIGNEE, LadderName, LoadedPolicy, LoadPolicyRequest, Step, When
    from workflows.state import Alarm, CaseState, PausedSpan, capped, field_value, is_given, lateness, open_case
    from workflows.sla import target_due

FUTURE_TOLERANCE = timedelta(minutes=5)
STOPPED = "cancelled: the ladder stopped"
CLOSED = "cancelled: the case closed"
CLOSE_GRACE = timedelta(minutes=1)
# workflow.patched ids: each guards a change that running cases' histories must still replay through.
BOUNDED_CLOSE = "close-waits-at-most-a-minute-for-deliveries"
SKIP_STALE_WARNINGS = "no-warning-once-the-deadline-has-passed"
POLICY_LOAD = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["UnknownTenant", "InvalidPolicy"]),
)
RESPONSE_LADDERS: tuple[LadderName, ...] = ("response_warning", "response_breach", "emergency_intake")
RESOLUTION_LADDERS: tuple[LadderName, ...] = ("resolution_warning", "resolution_breach")


def rejected(reason: str | None) -> None:
    """Reject an update with the sentence the caller sees; the case stays untouched."""
    if reason:
        raise ApplicationError(reason, type="UpdateRejected", non_retryable=True)


def as_request(request: CaseRequest | dict) -> CaseRequest:
    """The SDK applies type hints only when every argument is given, so a
    plain-JSON start from another client (one argument) arrives as a dict."""
    if isinstance(request, CaseRequest):
        return request
    try:
        return CaseRequest.model_validate(request)
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        raise ApplicationError(f"invalid CaseRequest: {problems}", type="InvalidCaseRequest", non_retryable=True) from None


@workflow.defn(name="SupportCase")
class SupportCaseWorkflow:
    """One support case. Deadlines are timers; escalation is a ladder of activities."""

    def __init__(self) -> None:
        self.case: CaseState | None = None
        self.calendar: BusinessCalendar | None = None
        self.ladders: dict[str, LadderRun] = {}
        self.deliveries: set[asyncio.Task[None]] = set()
        self.early_comments: list[Comment] = []
        self.published: dict[str, object] = {}
        self.changed = False

    @workflow.run
    async def run(self, request: CaseRequest, carried: CaseState | None = None) -> CaseStatus:
        request = as_request(request)
        if carried is not None:
            self.resume_carried(carried)
        else:
            await self.open(request)
        for comment in self.early_comments:
            self.comment(comment)
        while True:
            await self.keep_holidays_ahead()
            self.act_on_due_alarms()
            self.publish()
            if self.case.state == "closed":
                break
            if self.time_to_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[request, self.case])
            await self.until_next_alarm_or_change()
        await self.finish()
        return self.status()

    # --- opening ---------------------------------------------------------------

    async def open(self, request: CaseRequest) -> None:
        now = workflow.now()
        received_at, notes = request.received_at or now, list(request.notes)
        if received_at > now + FUTURE_TOLERANCE:
            notes.append(f"received_at {received_at.isoformat()} was in the future; replaced by the receipt time")
            received_at = now
        loaded = await self.load_policy(request.tenant, received_at.year)
        self.case = case = open_case(workflow.info().workflow_id, request, loaded, received_at)
        self.calendar = loaded.business_calendar()
        if request.channel not in case.policy.intake.channels:
            notes.append(f"channel {request.channel} is not one {case.policy.tenant} lists; accepted anyway")
        if request.severity is not None and request.severity != case.severity:
            notes.append(f"severity {request.severity} is not in the policy; used {case.severity}")
        case.record(now, "opened", channel=request.channel, source_id=request.source_id,
                    severity=case.severity, missing=case.missing or None, notes=notes or None)  # fmt: skip
        metrics.case_opened(case.policy.tenant, case.channel)
        if case.phi_redacted:
            case.record(now, "phi_redacted", note="PHI-like text was removed at intake; what was removed is not kept")
        self.acknowledge_requester()
        if case.channel == "emergency_line" or case.time_critical:
            self.start_ladder("emergency_intake")

    async def load_policy(self, tenant: str, year: int, policy=None) -> LoadedPolicy:
        return await workflow.execute_activity(
            "load_policy",
            LoadPolicyRequest(tenant=tenant, first_year=year - 1, last_year=year + 2, policy=policy),
            result_type=LoadedPolicy,
            summary=f"load the {tenant} policy, holidays {year - 1}–{year + 2}",
            **POLICY_LOAD,
        )

    def resume_carried(self, carried: CaseState) -> None:
        self.case = carried
        self.calendar = carried.loaded.business_calendar()

    async def keep_holidays_ahead(self) -> None:
        """Holidays are expanded a few years at a time; ask again before they run out."""
        year = workflow.now().year
        if year + 1 > self.case.loaded.last_year:
            self.case.loaded = await self.load_policy(self.case.policy.tenant, year, self.case.policy)
            self.calendar = self.case.loaded.business_calendar()

    def acknowledge_requester(self) -> None:
        case = self.case
        channel = self.requester_channel()
        if channel is None:
            case.record(workflow.now(), "acknowledgement_sent", channel=None, note="the requester left no email or phone")
            return
        text = messages.acknowledgement_text(case, case.response_due_at(self.calendar))
        case.record(workflow.now(), "acknowledgement_sent", channel=channel)
        self.tell_requester("requester_ack", 0, text)
        if case.missing:
            case.record(workflow.now(), "missing_requested", fields=case.missing, channel=channel)
            self.tell_requester("missing_fields", 0, messages.missing_fields_text(case))

    # --- the clocks ------------------------------------------------------------

    def act_on_due_alarms(self) -> None:
        """Fire every warning, breach and auto-close whose moment has come, breaches first."""
        while self.case.state != "closed":
            alarm = next(iter(self.case.alarms(self.calendar)), None)
            if alarm is None or alarm.at > workflow.now():
                return
            if alarm.kind == "breach":
                self.breach(alarm)
            elif alarm.kind == "warning" and self.breach_also_due(alarm) and workflow.patched(SKIP_STALE_WARNINGS):
                self.case.warnings_done.append(alarm.key)
            elif alarm.kind == "warning":
                self.warn(alarm)
            else:
                self.close_case(f"closed automatically {self.case.policy.auto_close_after} after resolution")

    def breach_also_due(self, warning: Alarm) -> bool:
        """A warning whose deadline has passed too (a case opened late, a worker outage) is not worth a page."""
        return self.case.due_at(warning.target, self.calendar) <= workflow.now()

    def warn(self, alarm: Alarm) -> None:
        case = self.case
        case.warnings_done.append(alarm.key)
        if alarm.target not in case.warnings:
            case.warnings.append(alarm.target)
        due = case.due_at(alarm.target, self.calendar)
        case.record(workflow.now(), "warning", target=alarm.target, fraction=alarm.fraction, due_at=due.isoformat())
        self.start_ladder(f"{alarm.target}_warning")

    def breach(self, alarm: Alarm) -> None:
        case, now = self.case, workflow.now()
        case.breaches.append(alarm.target)
        case.record(now, "breach", target=alarm.target, due_at=alarm.at.isoformat(), lateness_seconds=lateness(now, alarm.at))
        metrics.breach(case.policy.tenant, alarm.target, max(now - alarm.at, timedelta(0)))
        self.stop_ladders([f"{alarm.target}_warning"], "superseded")
        self.start_ladder(f"{alarm.target}_breach")

    async def until_next_alarm_or_change(self) -> None:
        self.changed = False
        alarm = next(iter(self.case.alarms(self.calendar)), None)
        if alarm is None:
            await workflow.wait_condition(lambda: self.changed)
            return
        wait = max(alarm.at - workflow.now(), timedelta(0))
        what = f"{alarm.target} {alarm.kind}" if alarm.target else "auto-close"
        try:
            await workflow.wait_condition(
                lambda: self.changed, timeout=wait, timeout_summary=f"{what} at {alarm.at.isoformat()}"
            )
        except asyncio.TimeoutError:
            pass

    # --- ladders ---------------------------------------------------------------

    def start_ladder(self, name: str) -> None:
        case = self.case
        ladder = case.policy.escalations.get(name)  # type: ignore[call-overload]
        if ladder is None:
            return
        if name in self.ladders:
            case.record(workflow.now(), "ladder_started", ladder=name, ignored="already running")
            return
        case.ladder_runs[name] = case.ladder_runs.get(name, 0) + 1
        run = LadderRun(self, name, ladder, case.ladder_runs[name])
        self.ladders[name] = run
        escalation = case.escalation
        escalation.ladder, escalation.step, escalation.round = name, 0, 0  # type: ignore[assignment]
        escalation.outcome, escalation.acknowledged_by = None, None
        escalation.running.append(name)  # type: ignore[arg-type]
        case.record(workflow.now(), "ladder_started", ladder=name, run=run.run)
        run.task = asyncio.create_task(run.climb())
        self.changed = True

    def stop_ladders(self, names, outcome: str) -> None:
        for name in list(names):
            run = self.ladders.get(name)
            if run is not None:
                self.end_ladder(run, outcome)
                if run.task is not None:
                    run.task.cancel()

    def end_ladder(self, run: LadderRun, outcome: str) -> None:
        case = self.case
        self.ladders.pop(run.name, None)
        escalation = case.escalation
        escalation.running.remove(run.name)  # type: ignore[arg-type]
        case.record(workflow.now(), "ladder_ended", ladder=run.name, run=run.run, outcome=outcome, step=run.step, round=run.round)
        if escalation.running:
            latest = self.ladders[escalation.running[-1]]
            escalation.ladder, escalation.step, escalation.round = latest.name, latest.step, latest.round  # type: ignore[assignment]
        else:
            escalation.ladder, escalation.step, escalation.outcome = run.name, 0, outcome  # type: ignore[assignment]
        self.changed = True

    # LadderHost: what a running ladder asks of its case.

    def rotation(self, name: str) -> list[str] | None:
        return self.case.policy.rotations.get(name)

    def when_holds(self, when: When) -> bool:
        case = self.case
        open_now = self.calendar.is_open(workflow.now())
        tests = [
            when.after_hours is None or when.after_hours == (not open_now),
            when.business_hours is None or when.business_hours == open_now,
            when.new_installation is None or when.new_installation == case.new_installation,
            when.time_critical is None or when.time_critical == case.time_critical,
            when.severity is None or case.severity in when.severity,
            when.channel is None or case.channel in when.channel,
        ]
        return all(tests)

    def step_reached(self, run: LadderRun, skipped: bool) -> None:
        case = self.case
        case.record(workflow.now(), "step_skipped" if skipped else "step_started", ladder=run.name, step=run.step, round=run.round)
        metrics.ladder_step(case.policy.tenant, run.name, skipped)
        if case.escalation.running and case.escalation.running[-1] == run.name:
            case.escalation.step, case.escalation.round = run.step, run.round
        self.changed = True

    def exhausted(self, run: LadderRun) -> None:
        self.end_ladder(run, "exhausted")

    def page(self, run: LadderRun, step: Step, contact_id: str) -> list[asyncio.Task[None]]:
        case = self.case
        if contact_id == ASSIGNEE:
            contact_id = case.assignee or ""
        contact = case.policy.contacts.get(contact_id)
        if contact is None:
            case.record(workflow.now(), "notification_failed", ladder=run.name, step=run.step, round=run.round,
                        contact=contact_id or ASSIGNEE, attempts=0,
                        last_error=f"{contact_id or 'nobody'} is not a contact in the policy (the case has no assignee to page)")  # fmt: skip
            return []
        due = self.ladder_due(run.name)
        text = messages.page_text(case, run.name, run.step, run.round, due)
        return [
            self.send(
                Delivery(
                    case_id=case.case_id, tenant=case.policy.tenant, ladder=run.name, run=run.run, step=run.step,
                    round=run.round, contact=contact_id, channel=channel, address=address,
                    case_channel=case.channel, subject=messages.summary_line(case), message=text,
                    idempotency_key=f"{case.case_id}:{run.name}:{run.run}:{run.round}:{run.step}:{contact_id}:{channel}",
                )  # fmt: skip
            )
            for channel in step.via
            if (address := contact.address(channel))
        ]

    def ladder_due(self, ladder: str) -> datetime | None:
        """The deadline a page is about, for its text."""
        case, clock = self.case, ladder.split("_")[0]
        if clock == "response":
            return case.response_due_at(self.calendar)
        if clock == "resolution":
            return case.resolution_due_at(self.calendar)
        return case.emergency_due_at if clock == "emergency" else None

    # --- deliveries ------------------------------------------------------------

    def requester_channel(self) -> str | None:
        requester = self.case.requester
        return "email" if requester.email else "sms" if requester.phone else None

    def tell_requester(self, ladder: str, step: int, text: str) -> None:
        case = self.case
        channel = self.requester_channel()
        if channel is None:
            return
        address = case.requester.email if channel == "email" else case.requester.phone
        if ladder == "requester_reply":
            case.replies_sent += 1
        run = case.replies_sent if ladder == "requester_reply" else 0
        self.send(
            Delivery(
                case_id=case.case_id, tenant=case.policy.tenant, ladder=ladder, run=run, step=step, round=0,
                contact="requester", channel=channel, address=address, case_channel=case.channel,
                subject=f"[{case.case_id}] {case.subject or case.policy.display_name}", message=text,
                idempotency_key=f"{case.case_id}:{ladder}:{run}:0:{step}:requester:{channel}",
            )  # fmt: skip
        )

    def send(self, delivery: Delivery) -> asyncio.Task[None]:
        task = asyncio.create_task(self.deliver(delivery))
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)
        return task

    async def deliver(self, delivery: Delivery) -> None:
        where = dict(ladder=delivery.ladder, step=delivery.step, round=delivery.round,
                     contact=delivery.contact, channel=delivery.channel)  # fmt: skip
        try:
            result = await workflow.execute_activity(
                DELIVER_ACTIVITY,
                delivery,
                result_type=DeliveryResult,
                schedule_to_close_timeout=DELIVERY_SCHEDULE_TO_CLOSE,
                start_to_close_timeout=DELIVERY_START_TO_CLOSE,
                retry_policy=DELIVERY_RETRY,
                summary=f"{delivery.channel} to {delivery.contact}: {delivery.ladder} step {delivery.step}",
            )
            self.case.record(workflow.now(), "notification_sent", **where, attempts=result.attempts)
        except ActivityError as failure:
            if isinstance(failure.cause, CancelledError):
                self.case.record(workflow.now(), "notification_failed", **where, last_error=self.why_cancelled())
            else:
                attempts, last_error = delivery_failure(failure)
                self.case.record(workflow.now(), "notification_failed", **where, attempts=attempts, last_error=last_error)
        except asyncio.CancelledError:
            self.case.record(workflow.now(), "notification_failed", **where, last_error=self.why_cancelled())
        self.changed = True

    def why_cancelled(self) -> str:
        return CLOSED if self.case.state == "closed" else STOPPED

    # --- the updates -----------------------------------------------------------

    async def ready(self) -> CaseState:
        await workflow.wait_condition(lambda: self.case is not None)
        return self.case

    async def let_ladders_take_their_first_step(self) -> None:
        """So the status an update returns already shows step 1 (a bare yield: no timer, deterministic)."""
        await asyncio.sleep(0)

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
        case.record(now, "workaround_provided", by=args.by, kind=args.kind,
                    description=capped(args.description), meets_resolution_target=meets)  # fmt: skip
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
        case.record(workflow.now(), "escalation_requested", reason=capped(args.reason), new_installation=case.new_installation)
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
        case.loaded = args.policy
        self.calendar = args.policy.business_calendar()
        case.pass_over_warnings_behind(workflow.now(), self.calendar)
        case.record(workflow.now(), "policy_applied", display_name=args.policy.policy.display_name)
        return self.changed_status()

    @apply_policy.validator
    def validate_apply_policy(self, args: ApplyPolicy) -> None:
        rejected(self.case and self.case.refuse_apply_policy(args.policy))

    @workflow.signal
    def comment(self, args: Comment) -> None:
        case = self.case
        if case is None:
            self.early_comments.append(args)
            return
        if case.state == "closed":
            workflow.logger.info("comment on closed case %s not recorded: a reply to a closed case opens a new one", case.case_id)
            return
        if args.source_id and args.source_id in case.comment_ids:
            return
        if args.source_id:
            case.comment_ids.append(args.source_id)
        case.record(workflow.now(), "comment", author=args.author, text=capped(args.text))
        if case.paused and self.is_requester(args.author):
            self.resume_from_pause("the requester commented")
            self.act_on_due_alarms()
        self.changed = True

    def is_requester(self, author: str) -> bool:
        requester = self.case.requester
        known = {"requester", (requester.email or "").lower(), (requester.name or "").lower(), requester.phone or ""}
        return author.strip().lower() in known - {""}

    @workflow.query
    def status(self) -> CaseStatus:
        if self.case is None:
            raise ApplicationError("the case is still opening; ask again in a moment")
        return self.case.status(self.calendar)

    # --- what the web UI and visibility see --------------------------------------

    def publish(self) -> None:
        """One search-attribute upsert per workflow task at most, with only what changed."""
        case = self.case
        status = self.status()
        values: dict[str, object] = {
            sa.CASE_TENANT.name: case.policy.tenant,
            sa.CASE_STATE.name: case.state,
            sa.CASE_CHANNEL.name: case.channel,
            sa.REQUESTER_EMAIL.name: case.requester_index,
            sa.CASE_SEVERITY.name: case.severity,
            sa.ESCALATION_STEP.name: case.escalation.step,
            sa.RESPONSE_DUE_AT.name: status.response_due_at,
            sa.RESOLUTION_DUE_AT.name: status.resolution_due_at,
            sa.NEXT_DUE_AT.name: status.next_due_at,
            sa.SLA_BREACHED.name: bool(case.breaches),
        }
        updates = []
        for key in sa.ALL:
            value = values[key.name]
            if self.published.get(key.name, "unset") == value:
                continue
            self.published[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))  # type: ignore[arg-type]
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(
            messages.clocks_markdown(case, workflow.now(), status.response_due_at, status.resolution_due_at)
        )

    # --- continue-as-new and the end ---------------------------------------------

    def time_to_continue_as_new(self) -> bool:
        """Only between ladders: a running ladder and its deliveries finish first."""
        return workflow.info().is_continue_as_new_suggested() and not self.ladders and not self.deliveries

    async def finish(self) -> None:
        """A closed case completes: messages still being retried get a short grace, then are cancelled."""
        self.publish()
        if self.deliveries and workflow.patched(BOUNDED_CLOSE):
            try:
                await workflow.wait_condition(
                    lambda: not self.deliveries, timeout=CLOSE_GRACE, timeout_summary="last messages before closing"
                )
            except asyncio.TimeoutError:
                for delivery in list(self.deliveries):
                    delivery.cancel()
        await workflow.wait_condition(lambda: not self.deliveries and workflow.all_handlers_finished())
