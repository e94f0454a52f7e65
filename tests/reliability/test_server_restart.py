"""The Temporal dev server stopped while cases are open and started again on the same SQLite file (same
ports) loses nothing: every case and every timeline entry is still there, a deadline that passed while it
was down breaches as soon as it is back, and a deadline after the restart breaches on time.

Real time on the dev server, about 40 s: the cases arrive almost 30 minutes late, so their Sev 1
response deadlines fall a few seconds into the test.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from receivers import HttpReceiver
from reliability_support import (
    WorkerProcess,
    case_status,
    eventually,
    timeline_events,
    timers_and_tasks,
    write_drill_policy,
)
from support import start_case
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.devserver import DevServer, free_port
from workflows.contracts import CaseRequest, CaseStatus, Requester

pytestmark = pytest.mark.takes(40)  # seconds, about: the longest files start first (conftest)

DOWNTIME = 12.0  # seconds the server is away


def drill_request(source_id: str, due_in: float) -> CaseRequest:
    """A Sev 1 case whose 30-minute response deadline falls `due_in` seconds from now."""
    received_at = datetime.now(UTC) - timedelta(minutes=30) + timedelta(seconds=due_in)
    return CaseRequest(
        tenant="drill",
        channel="api",
        source_id=source_id,
        requester=Requester(name="Ana Diaz", email="ana@clinic.example"),
        subject=f"Restart drill {source_id}",
        description="Opened before the server restart.",
        severity=1,
        received_at=received_at,
    )


def unchanged_by_restart(before: CaseStatus, after: CaseStatus) -> None:
    """Everything `before` knew is still there: the same facts, and its timeline as the start of the new one."""
    assert after.timeline[: len(before.timeline)] == before.timeline, "a timeline entry was lost or changed"
    for field in (
        "case_id",
        "tenant",
        "channel",
        "subject",
        "requester",
        "assignee",
        "severity",
        "received_at",
        "response_due_at",
        "resolution_due_at",
        "responded_at",
    ):
        assert getattr(after, field) == getattr(before, field), field
    assert set(before.breaches) <= set(after.breaches) and set(before.warnings) <= set(after.warnings)


async def test_cases_and_timers_survive_a_dev_server_restart_on_the_same_sqlite_file(
    tmp_path: Path,
    policies: Path,
    http_receiver: HttpReceiver,
    smtp_receiver,
    twilio_receiver,
    monkeypatch: pytest.MonkeyPatch,
):
    write_drill_policy(policies, http_receiver)
    queue = "reliability-restart"
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
    ports = dict(port=free_port(), http_port=free_port(), metrics_port=free_port())
    data_dir, logs = tmp_path / "temporal", tmp_path / "worker.log"

    async with DevServer(data_dir, ui=False, **ports) as server:
        client = await server.connect(data_converter=pydantic_data_converter)
        worker = await WorkerProcess(server.address, queue, logs).start()
        try:
            # A case people have worked on, and one whose deadline falls after the restart.
            worked = await start_case(client, drill_request("restart-worked", due_in=3600))
            after = await start_case(client, drill_request("restart-after", due_in=DOWNTIME + 25))
            await worked.handle.execute_update("assign", {"to": "team-lead"}, result_type=CaseStatus)
            await worked.handle.signal(
                "comment", {"author": "ana@clinic.example", "text": "Still down at every clinic."}
            )
            await worked.handle.execute_update(
                "respond", {"by": "team-lead", "message": "Looking now."}, result_type=CaseStatus
            )
            # Opened last, so that its deadline falls inside the downtime.
            down = await start_case(client, drill_request("restart-down", due_in=DOWNTIME / 2 + 1))
            cases = {"down": down, "after": after, "worked": worked}

            async def settled(handle):
                status = await case_status(handle)
                return status if timeline_events(status, "acknowledgement_sent") else None

            before = {name: await eventually(lambda h=opened.handle: settled(h), 15) for name, opened in cases.items()}
            assert all(before.values()), "a case never finished opening"
            assert not before["down"].breaches and not before["after"].breaches
        finally:
            await worker.stop()
    stopped_at, stopped_wall = time.monotonic(), datetime.now(UTC)
    assert stopped_wall < before["down"].response_due_at, (
        "the server stopped too late for the drill: the deadline had passed"
    )
    print(
        f"\nserver stopped with {len(cases)} cases open ({(before['down'].response_due_at - stopped_wall).total_seconds():.1f}s "
        f"before one's deadline); their timelines hold {sum(len(s.timeline) for s in before.values())} entries"
    )

    await asyncio.sleep(max(0.0, DOWNTIME - (time.monotonic() - stopped_at)))
    async with DevServer(data_dir, ui=False, **ports) as server:
        print(f"server back after {time.monotonic() - stopped_at:.1f}s on the same SQLite file and ports")
        assert datetime.now(UTC) > before["down"].response_due_at, (
            "the drill's deadline did not fall inside the downtime"
        )
        client = await server.connect(data_converter=pydantic_data_converter)
        worker = await WorkerProcess(server.address, queue, logs).start()
        try:
            assert datetime.now(UTC) < before["after"].response_due_at, (
                "the later deadline passed before the restart was done"
            )
            handles = {name: client.get_workflow_handle(opened.case_id) for name, opened in cases.items()}

            async def breached(name: str):
                status = await case_status(handles[name])
                return status if "response" in status.breaches else None

            down_after = await eventually(lambda: breached("down"), 20)
            assert down_after, "the deadline that passed while the server was down never breached"
            after_after = await eventually(lambda: breached("after"), 40)
            assert after_after, (
                f"the deadline after the restart never breached; its timers and task starts:\n"
                f"{await timers_and_tasks(handles['after'])}"
            )
            worked_after = await case_status(handles["worked"])

            async def all_listed():
                found = {w.id async for w in client.list_workflows("CaseTenant = 'drill'")}
                return found if found == {opened.case_id for opened in cases.values()} else None

            assert await eventually(all_listed, 15), "visibility lost a case"
        finally:
            await worker.stop()

    for name, status in (("down", down_after), ("after", after_after), ("worked", worked_after)):
        unchanged_by_restart(before[name], status)
    (late,) = timeline_events(down_after, "breach", target="response")
    (on_time,) = timeline_events(after_after, "breach", target="response")
    print(
        f"breach due during the downtime recorded {late.detail['lateness_seconds']:.1f}s late (once the server was back); "
        f"breach due after the restart recorded {on_time.detail['lateness_seconds']:.2f}s late"
    )
    assert on_time.detail["lateness_seconds"] < 2.0, "a timer after the restart fired late"
    assert late.detail["lateness_seconds"] < DOWNTIME + 30, "the missed deadline was not caught up promptly"
    assert worked_after.assignee == "team-lead" and worked_after.responded_at is not None
    assert [e.detail["text"] for e in timeline_events(worked_after, "comment")] == ["Still down at every clinic."]
