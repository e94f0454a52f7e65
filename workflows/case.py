"""SupportCase: one support case, from intake to close.

The case waits for its next moment to act (a warning, a breach, the
auto-close) or for someone to change it; at each moment it warns or
breaches, and its ladders page people until someone acknowledges. What
each update may do, and does, is DESIGN's update table in
`workflows/updates.py`; every update is registered from that one list.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from workflows import messages, metrics
    from workflows import search_attributes as sa
    from workflows.alarm_clock import AlarmClock
    from workflows.archive_policy import ARCHIVE_ACTIVITY, ARCHIVE_RETRY, ARCHIVE_START_TO_CLOSE
    from workflows.contracts import CASE_STILL_OPENING, UPDATE_REJECTED, CaseRequest, CaseStatus, Close, Comment
    from workflows.escalation import Escalation
    from workflows.opening import opened_case
    from workflows.policy import LoadedPolicy, LoadPolicyRequest, Policy, shared
    from workflows.state import FINISHED, Alarm, CaseState, capped, lateness
    from workflows.updates import UPDATES, Update, close, resume_from_pause

CLOSE_GRACE = timedelta(minutes=1)
MEMO_KEYS = ("subject", "assignee")
POLICY_LOAD_TIMEOUT = timedelta(seconds=30)
POLICY_LOAD_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=30), non_retryable_error_types=["UnknownTenant", "InvalidPolicy"]
)


def as_request(request: CaseRequest | dict) -> CaseRequest:
    """The SDK applies type hints only when every argument is given, so a plain-JSON start from another
    client (one argument) arrives as a dict."""
    if isinstance(request, CaseRequest):
        return request
    try:
        return CaseRequest.model_validate(request)
    except ValidationError as invalid:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors())
        raise ApplicationError(
            f"invalid CaseRequest: {problems}", type="InvalidCaseRequest", non_retryable=True
        ) from None


def rejected(reason: str | None) -> None:
    """Reject an update with the sentence the caller sees; the case stays untouched."""
    if reason:
        raise ApplicationError(reason, type=UPDATE_REJECTED, non_retryable=True)


@workflow.defn(name="SupportCase")
class SupportCaseWorkflow:
    """One support case. Deadlines are timers; escalation is a ladder of activities."""

    @workflow.init
    def __init__(
        self, request: CaseRequest, carried: CaseState | None = None, policy: LoadedPolicy | None = None
    ) -> None:
        self.case: CaseState | None = None
        self.escalation: Escalation | None = None
        self.clock = AlarmClock()
        self.early_comments: list[Comment] = []
        self.opening_record: asyncio.Task | None = None  # the archive's opening row, written in the background
        self.changed = False
        # What the case was started with (`start_case` gives every attribute): only a difference is upserted.
        self.published = sa.given(workflow.info().typed_search_attributes)
        self.published_memo = {key: workflow.memo_value(key, None) for key in MEMO_KEYS if key in workflow.memo()}
        for update in UPDATES:
            workflow.set_update_handler(
                update.name, self.update_handler(update), validator=self.update_validator(update)
            )
        if carried is not None:
            self.begin(carried)
        elif policy is not None and isinstance(request, CaseRequest):
            self.begin(self.opened(request, policy))

    @workflow.run
    async def run(
        self, request: CaseRequest, carried: CaseState | None = None, policy: LoadedPolicy | None = None
    ) -> CaseStatus:
        if self.case is None:  # a plain-JSON start from another client: the policy is loaded here
            request = as_request(request)
            received = request.received_at or workflow.now()
            self.begin(self.opened(request, await self.load_policy(request.tenant, received.year)))
        case = self.ready_case()
        if carried is None:  # the archive's opening row, so reports see open cases; a case opens whatever it does
            self.opening_record = workflow.start_activity(
                ARCHIVE_ACTIVITY,
                case.status(),
                summary="archive the opened case",
                start_to_close_timeout=ARCHIVE_START_TO_CLOSE,
                retry_policy=ARCHIVE_RETRY,
            )
        for comment in self.early_comments:
            self.comment(comment)
        while True:
            await self.keep_holidays_ahead()
            self.act_on_due_alarms()
            await self.escalation_of().carry_out()
            self.publish()
            if case.state == "closed":
                break
            if self.time_to_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[request, case, None])
            await self.until_next_alarm_or_change()
        await self.finish()
        await self.archive(case)
        return case.status()

    # --- opening ---------------------------------------------------------------------------

    def opened(self, request: CaseRequest, policy: LoadedPolicy) -> CaseState:
        case = opened_case(workflow.info().workflow_id, request, shared(policy), workflow.now())
        metrics.case_opened(case.policy.tenant, case.channel)
        return case

    def begin(self, case: CaseState) -> None:
        case.loaded = shared(case.loaded)
        self.case, self.escalation = case, Escalation(case)

    async def load_policy(self, tenant: str, year: int, policy: Policy | None = None) -> LoadedPolicy:
        return await workflow.execute_activity(
            "load_policy",
            LoadPolicyRequest(tenant=tenant, year=year, policy=policy),
            result_type=LoadedPolicy,
            summary=f"load the {tenant} policy, holidays around {year}",
            start_to_close_timeout=POLICY_LOAD_TIMEOUT,
            retry_policy=POLICY_LOAD_RETRY,
        )

    async def keep_holidays_ahead(self) -> None:
        """Holidays are expanded a few years at a time; ask again before they run out."""
        case = self.ready_case()
        if workflow.now().year + 1 > case.loaded.last_year:
            case.loaded = shared(await self.load_policy(case.policy.tenant, workflow.now().year, case.policy))

    # --- the clocks ------------------------------------------------------------------------

    def act_on_due_alarms(self) -> None:
        """Fire every warning, breach and auto-close whose moment has come, breaches first."""
        case = self.ready_case()
        while case.state != "closed":
            alarm = case.next_alarm()
            if alarm is None or alarm.at > workflow.now():
                return
            if alarm.kind == "breach":
                self.breach(alarm)
            elif alarm.kind == "warning":
                self.warn(alarm)
            else:
                self.close_automatically()

    def warn(self, alarm: Alarm) -> None:
        """A warning whose deadline has passed too (a case opened late, a worker outage) is not worth a page."""
        case, now = self.ready_case(), workflow.now()
        case.warnings_done.append(alarm.key)
        due = case.computed_due(alarm.target)  # type: ignore[arg-type]
        if due is not None and due <= now:
            return
        if alarm.target not in case.warnings:
            case.warnings.append(alarm.target)  # type: ignore[arg-type]
        case.record(now, "warning", target=alarm.target, fraction=alarm.fraction, due_at=due and due.isoformat())
        case.start_ladder(f"{alarm.target}_warning", now)

    def breach(self, alarm: Alarm) -> None:
        case, now, target = self.ready_case(), workflow.now(), alarm.target
        assert target is not None
        case.settle(target)
        case.breaches.append(target)
        case.record(now, "breach", target=target, due_at=alarm.at.isoformat(), lateness_seconds=lateness(now, alarm.at))
        metrics.breach(case.policy.tenant, target, max(now - alarm.at, timedelta(0)))
        case.stop_ladders([f"{target}_warning"], "superseded", now)
        case.start_ladder(f"{target}_breach", now)

    def close_automatically(self) -> None:
        case = self.ready_case()
        close(
            case, Close(reason=f"closed automatically {case.policy.auto_close_after} after resolution"), workflow.now()
        )

    async def until_next_alarm_or_change(self) -> None:
        escalation = self.escalation_of()
        self.changed = escalation.changed = False
        await self.clock.until(self.ready_case().next_alarm(), lambda: self.changed or escalation.changed)

    # --- updates: each one's rule and effect come from workflows/updates.py --------------------

    def update_handler(self, update: Update):
        async def handle(args: Any) -> CaseStatus:
            case = await self.ready()
            rejected(update.refuse(case, args))
            update.effect(case, args, workflow.now())
            return await self.settled()

        handle.__annotations__ = {"args": update.model, "return": CaseStatus}
        return handle

    def update_validator(self, update: Update):
        def validate(args: Any) -> None:
            rejected(update.refuse(self.case, args) if self.case else None)

        validate.__annotations__ = {"args": update.model, "return": None}
        return validate

    async def ready(self) -> CaseState:
        await workflow.wait_condition(lambda: self.case is not None)
        return self.ready_case()

    async def settled(self) -> CaseStatus:
        """After a change: what fell due fires, ladders start or stop, messages go; the loop recomputes."""
        self.act_on_due_alarms()
        await self.escalation_of().carry_out()
        self.changed = True
        return self.ready_case().status()

    # --- comments and the status query -----------------------------------------------------

    @workflow.signal
    def comment(self, args: Comment) -> None:
        case = self.case
        if case is None:
            self.early_comments.append(args)
            return
        if case.state == "closed":
            workflow.logger.info("comment on closed case %s not recorded: a reply opens a new case", case.case_id)
            return
        if args.source_id and args.source_id in case.comment_ids:
            return
        if args.source_id:
            case.comment_ids.append(args.source_id)
        now = workflow.now()
        case.record(now, "comment", args.actor, author=args.author, text=capped(args.text))
        if self.is_requester(args.author) and case.state not in FINISHED:
            self.escalation_of().tell_the_team()
            if case.paused:
                resume_from_pause(case, now, "the requester commented")
                self.act_on_due_alarms()
        self.changed = True

    def is_requester(self, author: str) -> bool:
        requester = self.ready_case().requester
        known = {"requester", (requester.email or "").lower(), (requester.name or "").lower(), requester.phone or ""}
        return author.strip().lower() in known - {""}

    @workflow.query
    def status(self) -> CaseStatus:
        if self.case is None:
            raise ApplicationError("the case is still opening; ask again in a moment", type=CASE_STILL_OPENING)
        return self.case.status()

    # --- what the web UI and visibility see --------------------------------------------------

    def publish(self) -> None:
        """One search-attribute upsert per workflow task at most, with only what changed."""
        case = self.ready_case()
        values = sa.values_of(case)
        updates = []
        for key in sa.ALL:
            value = values[key.name]
            if self.published.get(key.name, "unset") == value:
                continue
            self.published[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))  # type: ignore[arg-type]
        if updates:
            workflow.upsert_search_attributes(updates)
        memo = {"subject": case.subject, "assignee": case.assignee}
        if changed_memo := {
            key: value for key, value in memo.items() if self.published_memo.get(key, "unset") != value
        }:
            workflow.upsert_memo(changed_memo)  # what lists show beside the attributes (DESIGN Decision 17)
            self.published_memo |= changed_memo
        workflow.set_current_details(messages.clocks_markdown(case, workflow.now()))

    # --- continue-as-new and the end -----------------------------------------------------------

    def time_to_continue_as_new(self) -> bool:
        """Only between ladders: a running ladder and its deliveries finish first."""
        escalation, opening = self.escalation_of(), self.opening_record
        quiet = not escalation.busy and not self.ready_case().outgoing and (opening is None or opening.done())
        return workflow.info().is_continue_as_new_suggested() and quiet

    async def finish(self) -> None:
        """A closed case completes: messages still being retried get a short grace, then are cancelled."""
        escalation = self.escalation_of()
        self.clock.stop()
        self.publish()
        if escalation.busy:
            try:
                await workflow.wait_condition(
                    lambda: not escalation.busy, timeout=CLOSE_GRACE, timeout_summary="last messages before closing"
                )
            except TimeoutError:
                escalation.stop_everything()
        await workflow.wait_condition(lambda: not escalation.busy and workflow.all_handlers_finished())

    async def archive(self, case: CaseState) -> None:
        """The case's last act: its final record, retried until the archive accepts it (DESIGN "Case records")."""
        # A still-running opening write is left alone: the archive never lets an opening row replace a
        # closed one, and a cancel racing that write's completion only adds a command that can be refused.
        await workflow.execute_activity(
            ARCHIVE_ACTIVITY,
            case.status(),
            summary="archive the closed case",
            start_to_close_timeout=ARCHIVE_START_TO_CLOSE,
            retry_policy=ARCHIVE_RETRY,
        )

    def ready_case(self) -> CaseState:
        assert self.case is not None, "the case has not opened"
        return self.case

    def escalation_of(self) -> Escalation:
        assert self.escalation is not None, "the case has not opened"
        return self.escalation
