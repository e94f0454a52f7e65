"""A worker SIGKILLed between two escalation steps loses nothing: a new worker process climbs on, every
step's page reaches its receiver, and a page that had to be sent again carries the same Idempotency-Key.

Real time on the dev server: the case arrives 31 minutes late, so its Sev 1 response breach is due at
once, and the drill ladder waits its one minute between step 1 and step 2. The test takes about 75 s.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from receivers import HttpReceiver, Reply
from reliability_support import WorkerProcess, case_status, eventually, timeline_events, write_drill_policy
from support import start_case
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.devserver import DevServer
from workflows.contracts import CaseRequest, Requester

pytestmark = pytest.mark.takes(65)  # seconds, about: the longest files start first (conftest)

FAST, SLOW, LEAD = "/webhook/first-responder", "/webhook/slow-pager", "/webhook/team-lead"


def drill_request(source_id: str) -> CaseRequest:
    return CaseRequest(
        tenant="drill",
        channel="api",
        source_id=source_id,
        requester=Requester(name="Ana Diaz", email="ana@clinic.example"),
        subject="Scheduling page down",
        description="Every clinic sees an error page.",
        severity=1,
        received_at=datetime.now(UTC) - timedelta(minutes=31),
    )


async def test_a_worker_killed_between_two_steps_loses_no_step_and_repeats_only_under_the_same_key(
    tmp_path: Path,
    policies: Path,
    http_receiver: HttpReceiver,
    smtp_receiver,
    twilio_receiver,
    monkeypatch: pytest.MonkeyPatch,
):
    write_drill_policy(policies, http_receiver)
    # The slow pager is still answering step 1 when the worker dies: that delivery must be sent again.
    http_receiver.script(SLOW, Reply(200, json={"ok": True}, delay=8))
    queue = "reliability-kill"
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
    async with DevServer(tmp_path / "temporal", ui=False) as server:
        client = await server.connect(data_converter=pydantic_data_converter)
        logs = tmp_path / "worker.log"
        first = await WorkerProcess(server.address, queue, logs).start()
        try:
            opened = await start_case(client, drill_request("kill-drill-1"))
            await http_receiver.wait_for(1, SLOW, timeout=20)  # step 1 is paging, and the slow pager is mid-answer
            await http_receiver.wait_for(1, FAST, timeout=5)
            status = await case_status(opened.handle)
            assert timeline_events(status, "step_started", ladder="response_breach", step=1)
            assert not timeline_events(status, "step_started", ladder="response_breach", step=2)
            first.kill()
            killed_at = time.monotonic()
            print(f"\nworker SIGKILLed {len(http_receiver.requests)} requests in, during step 1's one-minute wait")
        finally:
            first.kill()

        second = await WorkerProcess(server.address, queue, logs).start()
        try:
            await http_receiver.wait_for(1, LEAD, timeout=120)

            async def step_2_recorded():
                status = await case_status(opened.handle)
                return status if timeline_events(status, "notification_sent", step=2, contact="team-lead") else None

            status = await eventually(step_2_recorded, timeout=60)
            assert status, "step 2's page was never recorded after the restart"
            print(f"step 2 paged {time.monotonic() - killed_at:.1f}s after the kill")
        finally:
            await second.stop()

    case = opened.case_id
    expected_keys = {
        FAST: f"{case}:response_breach:1:1:1:first-responder:webhook",
        SLOW: f"{case}:response_breach:1:1:1:slow-pager:webhook",
        LEAD: f"{case}:response_breach:1:1:2:team-lead:webhook",
    }
    keys_by_path: dict[str, list[str]] = defaultdict(list)
    for request in http_receiver.requests:
        keys_by_path[request.path].append(request.headers.get("idempotency-key", ""))
    for path, key in expected_keys.items():
        assert set(keys_by_path[path]) == {key}, f"{path} saw {keys_by_path[path]}"
        assert any(r.status == 200 for r in http_receiver.requests_to(path)), f"{path} never got its page"
    assert len(keys_by_path[SLOW]) >= 2, "the page lost with the worker was not sent again"
    print(f"deliveries per endpoint: { {path: len(keys) for path, keys in keys_by_path.items()} }")
    slow = http_receiver.requests_to(SLOW)
    print(
        f"the lost page was sent again {(slow[1].received_at - slow[0].received_at).total_seconds():.1f}s after the first try "
        "(the activity's 30 s start-to-close timeout, then the 1 s retry)"
    )

    for step in (1, 2):
        assert len(timeline_events(status, "step_started", ladder="response_breach", step=step)) == 1
    sent = {
        (e.detail["step"], e.detail["contact"]): e.detail["attempts"]
        for e in timeline_events(status, "notification_sent", ladder="response_breach")
    }
    assert set(sent) == {(1, "first-responder"), (1, "slow-pager"), (2, "team-lead")}
    assert sent[1, "slow-pager"] >= 2
    assert not timeline_events(status, "notification_failed")
    (ended,) = timeline_events(status, "ladder_ended", ladder="response_breach")
    assert ended.detail["outcome"] == "exhausted" and ended.detail["step"] == 2
    (opened_entry,) = timeline_events(status, "opened")
    (breach,) = timeline_events(status, "breach", target="response")
    assert breach.at - opened_entry.at < timedelta(seconds=5), "the breach was already due when the case opened"
