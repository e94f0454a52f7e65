"""How a case escalates: its ladders (started, stopped, reported) and every delivery they
and the case send. A mixin of `SupportCaseWorkflow`; it reads `self.case` and `self.calendar`."""

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
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

STOPPED = "cancelled: the ladder stopped"
CLOSED = "cancelled: the case closed"


class CaseEscalation:
    """Ladders run as asyncio tasks, one per ladder name; deliveries as tasks of their own, so
    neither a slow receiver nor a long wait ever holds up a clock."""

    async def let_ladders_take_their_first_step(self) -> None:
        """So what is published or returned next already shows a ladder just started at its step 1
        (a bare yield: no timer, deterministic)."""
        await asyncio.sleep(0)

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
        case.record(
            workflow.now(),
            "ladder_ended",
            ladder=run.name,
            run=run.run,
            outcome=outcome,
            step=run.step,
            round=run.round,
        )
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
        case.record(
            workflow.now(),
            "step_skipped" if skipped else "step_started",
            ladder=run.name,
            step=run.step,
            round=run.round,
        )
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
            case.record(
                workflow.now(),
                "notification_failed",
                ladder=run.name,
                step=run.step,
                round=run.round,
                contact=contact_id or ASSIGNEE,
                attempts=0,
                last_error=f"{contact_id or 'nobody'} is not a contact in the policy (the case has no assignee to page)",
            )
            return []
        due = self.ladder_due(run.name)
        text = messages.page_text(case, run.name, run.step, run.round, due)
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
                    case_channel=case.channel,
                    subject=messages.summary_line(case),
                    message=text,
                    idempotency_key=f"{case.case_id}:{run.name}:{run.run}:{run.round}:{run.step}:{contact_id}:{channel}",
                )
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

    # --- deliveries ---

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
                case_id=case.case_id,
                tenant=case.policy.tenant,
                ladder=ladder,
                run=run,
                step=step,
                round=0,
                contact="requester",
                channel=channel,
                address=address,
                case_channel=case.channel,
                subject=f"[{case.case_id}] {case.subject or case.policy.display_name}",
                message=text,
                idempotency_key=f"{case.case_id}:{ladder}:{run}:0:{step}:requester:{channel}",
            )
        )

    def send(self, delivery: Delivery) -> asyncio.Task[None]:
        task = asyncio.create_task(self.deliver(delivery))
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)
        return task

    async def deliver(self, delivery: Delivery) -> None:
        where = dict(
            ladder=delivery.ladder,
            step=delivery.step,
            round=delivery.round,
            contact=delivery.contact,
            channel=delivery.channel,
        )
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
                self.case.record(
                    workflow.now(), "notification_failed", **where, attempts=attempts, last_error=last_error
                )
        except asyncio.CancelledError:
            self.case.record(workflow.now(), "notification_failed", **where, last_error=self.why_cancelled())
        self.changed = True

    def why_cancelled(self) -> str:
        return CLOSED if self.case.state == "closed" else STOPPED
