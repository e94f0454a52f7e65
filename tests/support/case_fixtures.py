"""A case under test: the time-skipping server, the production worker, and
the shipped policies rewritten so every contact's chat and webhook address is
a local receiver (email goes to aiosmtpd, SMS and voice to a Twilio stand-in)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from receivers import HttpReceiver, SmtpReceiver
from support import write_policies
from temporal_fixtures import case_worker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import tenant_policies
from starter import client as cases
from workflows.contracts import CaseRequest, CaseStatus, Requester

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


@pytest.fixture
def policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_receiver: HttpReceiver) -> Path:
    """The shipped policies, with chat and webhook contacts pointed at `http_receiver` (/chat/<id>, /webhook/<id>)."""
    folder = tmp_path / "policies"
    write_policies(folder, http_receiver)
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(folder))
    return folder


@dataclass
class CaseEnv:
    """Everything a case test touches, with helpers that read like the seed."""

    env: WorkflowEnvironment
    queue: str
    http: HttpReceiver
    twilio: HttpReceiver
    smtp: SmtpReceiver

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def skip_to(self, moment: datetime) -> None:
        """Move the test server's clock to `moment` (it only goes forward)."""
        gap = moment - await self.now()
        assert gap >= timedelta(0), f"the test clock is already past {moment.isoformat()}"
        await self.env.sleep(gap)

    async def open(self, request: CaseRequest) -> WorkflowHandle:
        """Started by `start_case`, as the gateway and the CLI start a case: with its policy and attributes."""
        year = (request.received_at or await self.now()).year
        policy = tenant_policies.loaded_policy(request.tenant, year)
        return (await cases.start_case(self.client, request, policy, self.queue)).handle

    async def status(self, case: WorkflowHandle) -> CaseStatus:
        """The case's status; a case answers once its policy is loaded, a moment after start."""
        for _ in range(100):
            try:
                return await case.query("status", result_type=CaseStatus)
            except WorkflowQueryFailedError as still_opening:
                if "still opening" not in str(still_opening):
                    raise
                await asyncio.sleep(0.02)
        raise AssertionError("the case never finished opening")

    async def settled(self, case: WorkflowHandle) -> CaseStatus:
        """The status once the requester's acknowledgement delivery has finished and been recorded."""
        for _ in range(250):
            status = await self.status(case)
            if any(
                e.event == "acknowledgement_sent"
                or (e.event == "notification_failed" and e.detail.get("ladder") == "requester_ack")
                for e in status.timeline
            ):
                return status
            await asyncio.sleep(0.02)
        raise AssertionError("the acknowledgement delivery never finished")

    async def keep_history(self, case: WorkflowHandle, name: str) -> None:
        """With SUPPORTFLOW_RECORD_HISTORIES=1, save this case's history for the replay tests."""
        if os.environ.get("SUPPORTFLOW_RECORD_HISTORIES") == "1":
            history = await case.fetch_history()
            (HISTORIES / f"{name}.json").write_text(history.to_json())

    async def update(self, case: WorkflowHandle, name: str, args: dict[str, Any]) -> CaseStatus:
        return await case.execute_update(name, args, result_type=CaseStatus)

    async def idle(self, case: WorkflowHandle) -> None:
        """Until the case has nothing in flight and no timer about to fire: every activity it scheduled has
        ended, no workflow task is open, and a timer due within a second has fired (the clock skips to it).
        The time-skipping server loses an update whose workflow task is open when another event arrives (a
        delivery's completion, a timer): it hands out a second task for the same run and drops the first one's
        completion, the update's answer. A ladder step due the moment a test answers the case does that. Only
        for scenarios whose deliveries all succeed: a delivery being retried keeps its activity open."""
        for _ in range(500):
            events = (await case.fetch_history()).events
            if _in_flight(events):
                await asyncio.sleep(0.01)
                continue
            now = await self.now()
            imminent = [due for due in _timers_due(events) if due - now < timedelta(seconds=1)]
            if not imminent:
                return
            await self.env.sleep(max(max(imminent) - now, timedelta(0)) + timedelta(milliseconds=1))
        raise AssertionError(f"{case.id} never settled: an activity or a workflow task stayed open")

    async def rejection(self, case: WorkflowHandle, name: str, args: dict[str, Any]) -> str:
        """The message an illegal update is rejected with."""
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await case.execute_update(name, args, result_type=CaseStatus)
        return str(rejected.value.cause)

    def pages(self, ladder: str | None = None) -> list[dict]:
        """Every ladder delivery that reached a receiver, as (ladder, step, round, contact, channel) dicts."""
        found = []
        for request in self.http.requests + self.twilio.requests:
            key = request.headers.get("idempotency-key")
            if key:
                found.append(_key_fields(key) | {"at": request.received_at})
        for mail in self.smtp.messages:
            found.append(_key_fields(mail.message["Idempotency-Key"]) | {"at": mail.received_at})
        return [p for p in found if ladder is None or p["ladder"] == ladder]


_ACTIVITY_ENDS = (
    "activity_task_completed_event_attributes",
    "activity_task_failed_event_attributes",
    "activity_task_timed_out_event_attributes",
    "activity_task_canceled_event_attributes",
)
_TASK_ENDS = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
)


def _in_flight(events) -> bool:
    """True while an activity scheduled in `events` has not ended, or the last workflow task is still open."""
    running: set[int] = set()
    task_open = False
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            running.add(event.event_id)
        for ended in _ACTIVITY_ENDS:
            if event.HasField(ended):
                running.discard(getattr(event, ended).scheduled_event_id)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_open = True
        elif event.event_type in _TASK_ENDS:
            task_open = False
    return bool(running) or task_open


def _timers_due(events) -> list[datetime]:
    """When each timer started in `events` and neither fired nor cancelled is due."""
    due: dict[str, datetime] = {}
    for event in events:
        if event.HasField("timer_started_event_attributes"):
            started = event.timer_started_event_attributes
            due[started.timer_id] = event.event_time.ToDatetime(UTC) + started.start_to_fire_timeout.ToTimedelta()
        elif event.HasField("timer_fired_event_attributes"):
            due.pop(event.timer_fired_event_attributes.timer_id, None)
        elif event.HasField("timer_canceled_event_attributes"):
            due.pop(event.timer_canceled_event_attributes.timer_id, None)
    return list(due.values())


def _key_fields(key: str) -> dict:
    case_id, ladder, run, round_, step, contact, channel = key.split(":")
    return dict(
        case_id=case_id,
        ladder=ladder,
        run=int(run),
        round=int(round_),
        step=int(step),
        contact=contact,
        channel=channel,
        key=key,
    )


@pytest_asyncio.fixture
async def case_env(
    policies: Path,
    http_receiver: HttpReceiver,
    twilio_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[CaseEnv]:
    """A fresh time-skipping server per test, so each test sets its own clock, and a fresh archive beside it:
    records and pages from another test's timeline (the SMS page log answers by time) never leak in."""
    from temporal_fixtures import BIN, register_search_attributes
    from temporalio.contrib.pydantic import pydantic_data_converter

    from archive.store import VARIABLE

    monkeypatch.setenv(VARIABLE, f"sqlite:///{tmp_path / 'cases.sqlite'}")

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    async with env:
        async with case_worker(env.client) as queue:
            yield CaseEnv(env, queue, http_receiver, twilio_receiver, smtp_receiver)


def blockit_request(severity: int | None, received_at: datetime, **extra: Any) -> CaseRequest:
    return CaseRequest(
        tenant="blockit",
        channel=extra.pop("channel", "email"),
        requester=extra.pop(
            "requester",
            Requester(name="Ana Diaz", email="ana@clinic.example", phone="+15555550123", company="Clinic Co"),
        ),
        subject="Scheduling page down",
        description="The scheduling page shows an error.",
        severity=severity,
        received_at=received_at,
        **extra,
    )


def blub0x_request(channel: str, received_at: datetime, **extra: Any) -> CaseRequest:
    return CaseRequest(
        tenant="blub0x",
        channel=channel,
        requester=extra.pop(
            "requester",
            Requester(
                name="Sam Lee",
                email="sam@tower.example",
                phone="+15555550142",
                company="Tower Co",
                building="Tower One",
            ),
        ),
        subject=extra.pop("subject", "Door controllers offline"),
        description=extra.pop("description", "Every door controller in the lobby is offline."),
        received_at=received_at,
        **extra,
    )


def events(status: CaseStatus, name: str) -> list:
    return [entry for entry in status.timeline if entry.event == name]


async def opening_upserts(case) -> list[set[str]]:
    """The attribute names each upsert set while the case opened (TemporalChangeVersion aside): every
    workflow task up to the one that starts the case's first timer, which ends the opening."""
    names = []
    timer_started = False
    for event in (await case.fetch_history()).events:
        if timer_started and event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            break
        timer_started = timer_started or event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            names.append(set(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields))
    return [n - {"TemporalChangeVersion"} for n in names if n != {"TemporalChangeVersion"}]
