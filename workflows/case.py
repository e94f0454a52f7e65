"""SupportCase: one support case, from intake to close.

Deadlines are timers; escalation is a ladder of delivery activities. The
rules of what is legal when live in `workflows/state.py`; this class wires
them to Temporal: the clock loop reads top to bottom here, the updates live
in `case_updates.py`, the ladders and deliveries in `case_escalation.py`.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from workflows import messages, metrics
    from workflows import search_attributes as sa
    from workflows.archive_policy import ARCHIVE_ACTIVITY, ARCHIVE_OPTIONS
    from workflows.calendar import BusinessCalendar
    from workflows.case_escalation import CaseEscalation
    from workflows.case_updates import CaseUpdates
    from workflows.contracts import CaseRequest, CaseStatus, Comment
    from workflows.ladder import LadderRun
    from workflows.policy import LoadedPolicy, LoadPolicyRequest, shared
    from workflows.state import Alarm, CaseState, capped, lateness, open_case

FUTURE_TOLERANCE = timedelta(minutes=5)
CLOSE_GRACE = timedelta(minutes=1)
# workflow.patched ids, oldest first: each guards a change that running cases' histories must still replay through.
BOUNDED_CLOSE = "close-waits-at-most-a-minute-for-deliveries"
SKIP_STALE_WARNINGS = "no-warning-once-the-deadline-has-passed"
KEEP_ALARM_TIMER = "one-timer-per-alarm-moment"
LOCAL_POLICY_LOAD = "policy-loaded-by-a-local-activity"
ONE_UPSERT_PER_TASK = "ladders-take-their-step-before-publishing"
ATTRIBUTES_FROM_START = "search-attributes-given-at-start-are-published"
REGULAR_POLICY_LOAD = "policy-loaded-by-a-regular-activity-again"
PATCHES = (
    BOUNDED_CLOSE,
    SKIP_STALE_WARNINGS,
    KEEP_ALARM_TIMER,
    LOCAL_POLICY_LOAD,
    ONE_UPSERT_PER_TASK,
    ATTRIBUTES_FROM_START,
    REGULAR_POLICY_LOAD,
)  # append new ones
# From this one on, a case records one patch marker, at its start: the newest its code has (docs/upgrading.md).
FIRST_STARTUP_PATCH = PATCHES.index(LOCAL_POLICY_LOAD)
POLICY_LOAD = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        maximum_interval=timedelta(seconds=30), non_retryable_error_types=["UnknownTenant", "InvalidPolicy"]
    ),
)


def as_request(request: CaseRequest | dict) -> CaseRequest:
    """The SDK applies type hints only when every argument is given, so a
    plain-JSON start from another client (one argument) arrives as a dict."""
    if isinstance(request, CaseRequest):
        return request
    try:
        return CaseRequest.model_validate(request)
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        raise ApplicationError(
            f"invalid CaseRequest: {problems}", type="InvalidCaseRequest", non_retryable=True
        ) from None


@workflow.defn(name="SupportCase")
class SupportCaseWorkflow(CaseUpdates, CaseEscalation):
    """One support case. Deadlines are timers; escalation is a ladder of activities."""

    def __init__(self) -> None:
        self.case: CaseState | None = None
        self.calendar: BusinessCalendar | None = None
        self.ladders: dict[str, LadderRun] = {}
        self.deliveries: set[asyncio.Task[None]] = set()
        self.early_comments: list[Comment] = []
        self.published: dict[str, object] = {}
        self.alarm_timer: asyncio.Task[None] | None = None
        self.alarm_moment: datetime | None = None
        self.changed = False
        self.begun_with = -1  # the index in PATCHES of the newest patch this case's code had when it began
        self.opening_record: asyncio.Task | None = None  # the archive's opening row, written in the background

    @workflow.run
    async def run(self, request: CaseRequest, carried: CaseState | None = None) -> CaseStatus:
        request = as_request(request)
        self.begun_with = self.startup_patch()
        if self.patched(ATTRIBUTES_FROM_START):
            # `start_case` starts a case with what its first task would publish; only a difference is upserted.
            self.published = sa.given(workflow.info().typed_search_attributes)
        if carried is not None:
            self.resume_carried(carried)
        else:
            await self.open(request)
            # records: the opening row, so reports see open cases; not awaited, a case opens whatever the archive does
            self.opening_record = workflow.start_activity(
                ARCHIVE_ACTIVITY, self.status(), summary="archive the opened case", **ARCHIVE_OPTIONS
            )
        for comment in self.early_comments:
            self.comment(comment)
        while True:
            await self.keep_holidays_ahead()
            self.act_on_due_alarms()
            if self.patched(ONE_UPSERT_PER_TASK):
                await self.let_ladders_take_their_first_step()  # so one upsert covers a breach and its step 1
            self.publish()
            if self.case.state == "closed":
                break
            if self.time_to_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[request, self.case])
            await self.until_next_alarm_or_change()
        await self.finish()
        # records: the final row is the case's last act; it is retried until the archive accepts it
        if self.opening_record is not None and not self.opening_record.done():
            self.opening_record.cancel()  # the final row supersedes it
        await workflow.execute_activity(
            ARCHIVE_ACTIVITY, self.status(), summary="archive the closed case", **ARCHIVE_OPTIONS
        )
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
        case.record(
            now,
            "opened",
            channel=request.channel,
            source_id=request.source_id,
            severity=case.severity,
            missing=case.missing or None,
            notes=notes or None,
        )
        metrics.case_opened(case.policy.tenant, case.channel)
        if case.phi_redacted:
            case.record(now, "phi_redacted", note="PHI-like text was removed at intake; what was removed is not kept")
        self.acknowledge_requester()
        if case.channel == "emergency_line" or case.time_critical:
            self.start_ladder("emergency_intake")

    async def load_policy(self, tenant: str, year: int, policy=None) -> LoadedPolicy:
        """The worker's shared copy of the tenant's policy, from an ordinary activity. A local one saved a
        workflow task per case, but when its result reached the workflow in a later task than the one that
        ran it, the code after it saw another `workflow.now()` on replay than it had seen live (the
        activity's completion time instead of that task's start): the opening's timeline moved after a
        worker restart (tests/reliability/test_server_restart.py). Cases begun with it keep it."""
        request = LoadPolicyRequest(tenant=tenant, first_year=year - 1, last_year=year + 2, policy=policy)
        local = self.patched(LOCAL_POLICY_LOAD) and not self.patched(REGULAR_POLICY_LOAD)
        execute = workflow.execute_local_activity if local else workflow.execute_activity
        loaded = await execute(
            "load_policy",
            request,
            result_type=LoadedPolicy,
            summary=f"load the {tenant} policy, holidays {year - 1}–{year + 2}",
            **POLICY_LOAD,
        )
        return shared(loaded)

    def resume_carried(self, carried: CaseState) -> None:
        carried.loaded = shared(carried.loaded)
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
            case.record(
                workflow.now(), "acknowledgement_sent", channel=None, note="the requester left no email or phone"
            )
            return
        text = messages.acknowledgement_text(case, case.response_due_at(self.calendar))
        case.record(workflow.now(), "acknowledgement_sent", channel=channel)
        self.tell_requester("requester_ack", 0, text)
        if case.missing:
            case.record(workflow.now(), "missing_requested", fields=case.missing, channel=channel)
            self.tell_requester("missing_fields", 0, messages.missing_fields_text(case))

    def startup_patch(self) -> int:
        """Record only the newest patch, once: each marker also upserts TemporalChangeVersion (a visibility
        write), and a case begun on code with a patch has every older one too. Replay finds the same one."""
        for index in range(len(PATCHES) - 1, FIRST_STARTUP_PATCH - 1, -1):
            if workflow.patched(PATCHES[index]):
                return index
        return -1

    def patched(self, patch_id: str) -> bool:
        """`workflow.patched`, answered from the startup patch when the case began on code that had this one."""
        return PATCHES.index(patch_id) <= self.begun_with or workflow.patched(patch_id)

    # --- the clocks ------------------------------------------------------------

    def act_on_due_alarms(self) -> None:
        """Fire every warning, breach and auto-close whose moment has come, breaches first."""
        while self.case.state != "closed":
            alarm = next(iter(self.case.alarms(self.calendar)), None)
            if alarm is None or alarm.at > workflow.now():
                return
            if alarm.kind == "breach":
                self.breach(alarm)
            elif alarm.kind == "warning" and self.breach_also_due(alarm) and self.patched(SKIP_STALE_WARNINGS):
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
        case.record(
            now, "breach", target=alarm.target, due_at=alarm.at.isoformat(), lateness_seconds=lateness(now, alarm.at)
        )
        metrics.breach(case.policy.tenant, alarm.target, max(now - alarm.at, timedelta(0)))
        self.stop_ladders([f"{alarm.target}_warning"], "superseded")
        self.start_ladder(f"{alarm.target}_breach")

    async def until_next_alarm_or_change(self) -> None:
        self.changed = False
        alarm = next(iter(self.case.alarms(self.calendar)), None)
        if self.patched(KEEP_ALARM_TIMER):
            await self.until_alarm_timer_or_change(alarm)
            return
        if alarm is None:
            await workflow.wait_condition(lambda: self.changed)
            return
        wait = max(alarm.at - workflow.now(), timedelta(0))
        what = f"{alarm.target} {alarm.kind}" if alarm.target else "auto-close"
        try:  # noqa: SIM105 (removed with the patch re-baseline)
            await workflow.wait_condition(
                lambda: self.changed, timeout=wait, timeout_summary=f"{what} at {alarm.at.isoformat()}"
            )
        except TimeoutError:
            pass

    async def until_alarm_timer_or_change(self, alarm: Alarm | None) -> None:
        """One timer per alarm moment, kept while changes (an update, a step, a delivery) leave that
        moment where it was: a change costs no timer commands, only a recompute."""
        moment = alarm.at if alarm else None
        if moment != self.alarm_moment or (self.alarm_timer is not None and self.alarm_timer.done()):
            if self.alarm_timer is not None:
                self.alarm_timer.cancel()
            self.alarm_timer, self.alarm_moment = None, moment
            if alarm is not None:
                what = f"{alarm.target} {alarm.kind}" if alarm.target else "auto-close"
                wait = max(alarm.at - workflow.now(), timedelta(0))
                self.alarm_timer = asyncio.create_task(
                    workflow.sleep(wait, summary=f"{what} at {alarm.at.isoformat()}")
                )
        timer = self.alarm_timer
        await workflow.wait_condition(lambda: self.changed or (timer is not None and timer.done()))

    # --- comments and the status query -----------------------------------------

    @workflow.signal
    def comment(self, args: Comment) -> None:
        case = self.case
        if case is None:
            self.early_comments.append(args)
            return
        if case.state == "closed":
            workflow.logger.info(
                "comment on closed case %s not recorded: a reply to a closed case opens a new one", case.case_id
            )
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
        values = sa.values_of(case, status)
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
        if self.alarm_timer is not None:
            self.alarm_timer.cancel()
        self.publish()
        if self.deliveries and self.patched(BOUNDED_CLOSE):
            try:
                await workflow.wait_condition(
                    lambda: not self.deliveries, timeout=CLOSE_GRACE, timeout_summary="last messages before closing"
                )
            except TimeoutError:
                for delivery in list(self.deliveries):
                    delivery.cancel()
        await workflow.wait_condition(lambda: not self.deliveries and workflow.all_handlers_finished())
