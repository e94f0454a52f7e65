"""How a case escalates and speaks: its ladders run as tasks, and every message goes out as a delivery activity.

The case state says which ladders run and which messages wait for the
requester; `Escalation.carry_out` makes the running tasks match it. So an
update only changes the state, and neither a slow receiver nor a long wait
ever holds up a clock.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

from workflows import messages, metrics
from workflows.contracts import Delivery, DeliveryResult
from workflows.delivery_policy import (
    DELIVER_ACTIVITY,
    DELIVERY_RETRY,
    DELIVERY_SCHEDULE_TO_CLOSE,
    DELIVERY_START_TO_CLOSE,
    delivery_failure,
)
from workflows.ladder import LadderRun
from workflows.policy import ASSIGNEE, Step, When
from workflows.state import CaseState

STOPPED = "cancelled: the ladder stopped"
CLOSED = "cancelled: the case closed"
# Comments from the requester reach the team (BluB0X: "updates are sent to more than just the assigned
# Support Engineer"); every comment runs it, and it never shows in `escalation`.
REQUESTER_UPDATE = "requester_update"
# Channels on which a requester's phone number is the number to call back.
PHONE_CHANNELS = frozenset({"phone", "voicemail", "emergency_line"})


class Escalation:
    def __init__(self, case: CaseState):
        self.case = case
        self.ladders: dict[str, LadderRun] = {}
        self.updates: set[asyncio.Task[None]] = set()
        self.deliveries: set[asyncio.Task[None]] = set()
        self.changed = False  # something the main loop should look at: a step, an end, a delivery

    @property
    def busy(self) -> bool:
        return bool(self.ladders or self.updates or self.deliveries)

    async def carry_out(self) -> None:
        """Start the ladders the case started, stop the ones it stopped, and send what waits for the requester.
        A ladder just started takes its step 1 before this returns (a bare yield: no timer, deterministic)."""
        started = False
        for name in list(self.ladders):
            if name not in self.case.ladders:
                self.ladders.pop(name).cancel()
        for name, progress in self.case.ladders.items():
            if name not in self.ladders:
                ladder = self.case.policy.escalations[name]  # type: ignore[index]
                self.ladders[name] = LadderRun(self, name, ladder, progress.run).begin()
                started = True
        while self.case.outgoing:
            self.send(self.case.outgoing.pop(0))
        if started:
            await asyncio.sleep(0)

    def tell_the_team(self) -> None:
        """Run `requester_update` once more, beside whatever else runs."""
        case = self.case
        ladder = case.policy.escalations.get(REQUESTER_UPDATE)  # type: ignore[call-overload]
        if ladder is None:
            return
        run = case.ladder_runs[REQUESTER_UPDATE] = case.ladder_runs.get(REQUESTER_UPDATE, 0) + 1
        task = LadderRun(self, REQUESTER_UPDATE, ladder, run).begin().task
        assert task is not None
        self.updates.add(task)
        task.add_done_callback(self.updates.discard)

    def stop_everything(self) -> None:
        for run in self.ladders.values():
            run.cancel()
        for task in [*self.updates, *self.deliveries]:
            task.cancel()

    # --- what a running ladder asks of its case (ladder.LadderHost) -------------------------------

    def rotation(self, name: str) -> list[str] | None:
        return self.case.policy.rotations.get(name)

    def when_holds(self, when: When) -> bool:
        case = self.case
        open_now = case.calendar.is_open(workflow.now())
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
        metrics.ladder_step(case.policy.tenant, run.name, skipped)
        if run.name in case.ladders:
            case.reach_step(run.name, run.step, run.round, skipped, workflow.now())
        self.changed = True

    def exhausted(self, run: LadderRun) -> None:
        if self.ladders.get(run.name) is run:
            del self.ladders[run.name]
            self.case.end_ladder(run.name, "exhausted", workflow.now())
        self.changed = True

    def page(self, run: LadderRun, step: Step, target: str) -> list[asyncio.Task[None]]:
        case = self.case
        found = case.policy.contact_for(case.assignee) if target == ASSIGNEE else case.policy.contact_for(target)
        if found is None:
            if run.name != REQUESTER_UPDATE:
                nobody = target if target != ASSIGNEE else case.assignee
                case.record(
                    workflow.now(),
                    "notification_failed",
                    ladder=run.name,
                    step=run.step,
                    round=run.round,
                    contact=nobody or ASSIGNEE,
                    attempts=0,
                    last_error=f"{nobody or 'nobody'} is not a contact in the policy (the case has no assignee to page)",
                )
            return []
        contact_id, contact = found
        due = case.ladder_due(run.name)
        callback = case.requester.phone if case.channel in PHONE_CHANNELS else None
        return [
            self.send(
                Delivery(
                    case_id=case.case_id,
                    tenant=case.policy.tenant,
                    ladder=run.name,
                    run=run.run,
                    step=run.step,
                    round=run.round,
                    contact=contact_id,
                    channel=channel,
                    address=address,
                    case_channel=case.channel,  # type: ignore[arg-type]
                    subject=messages.summary_line(case),
                    message=messages.page_text(case, run.name, run.step, run.round, due),
                    idempotency_key=f"{case.case_id}:{run.name}:{run.run}:{run.round}:{run.step}:{contact_id}:{channel}",
                    severity=case.severity,
                    severity_name=case.level.name,
                    due_at=due,
                    description=messages.shortened(case.description, 1000),
                    callback_number=callback,
                    recording_url=case.recording_url,
                )
            )
            for channel in step.via
            if (address := contact.address(channel))
        ]

    # --- deliveries ---------------------------------------------------------------------------------

    def send(self, delivery: Delivery) -> asyncio.Task[None]:
        task = asyncio.create_task(self.deliver(delivery))
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)
        return task

    async def deliver(self, delivery: Delivery) -> None:
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
            self.delivered(delivery, result.attempts)
        except ActivityError as failure:
            if isinstance(failure.cause, CancelledError):
                self.failed(delivery, None, self.why_cancelled())
            else:
                self.failed(delivery, *delivery_failure(failure))
        except asyncio.CancelledError:
            self.failed(delivery, None, self.why_cancelled())
        self.changed = True

    def delivered(self, delivery: Delivery, attempts: int) -> None:
        """The timeline records what reached someone: the acknowledgement and the request for missing
        details are written when delivered, never before."""
        now, case = workflow.now(), self.case
        if delivery.ladder == "requester_ack":
            case.record(now, "acknowledgement_sent", channel=delivery.channel, attempts=attempts)
        elif delivery.ladder == "missing_fields":
            case.record(now, "missing_requested", fields=case.missing, channel=delivery.channel, attempts=attempts)
        else:
            case.record(now, "notification_sent", None, **_where(delivery), attempts=attempts)

    def failed(self, delivery: Delivery, attempts: int | None, last_error: str) -> None:
        where = _where(delivery)
        self.case.record(workflow.now(), "notification_failed", None, **where, attempts=attempts, last_error=last_error)

    def why_cancelled(self) -> str:
        return CLOSED if self.case.state == "closed" else STOPPED


def _where(delivery: Delivery) -> dict[str, object]:
    return dict(
        ladder=delivery.ladder,
        step=delivery.step,
        round=delivery.round,
        contact=delivery.contact,
        channel=delivery.channel,
    )
