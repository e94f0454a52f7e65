"""Representative cases, each recorded (SUPPORTFLOW_RECORD_HISTORIES=1) for the replay tests: every update on
one case, a start from another client, an emergency call answered live, and a case that continues as new.

With the lifecycle and seed tests that also keep their histories, they cover every seed path, continue-as-new
and each update (docs/upgrading.md).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from case_fixtures import HISTORIES, blockit_request, blub0x_request, events
from support import eventually, start_case
from temporal_fixtures import case_worker
from temporalio.contrib.pydantic import pydantic_data_converter

import tenant_policies
from starter.devserver import DevServer
from workflows.contracts import CaseStatus, Requester

CHICAGO, EASTERN = ZoneInfo("America/Chicago"), ZoneInfo("America/New_York")
MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=CHICAGO)
ACTOR = {"kind": "key", "name": "ops-desk"}


async def test_every_update_leaves_its_entry_with_who_acted(case_env):
    await case_env.skip_to(MONDAY_10)
    case = await case_env.open(blockit_request(2, MONDAY_10))
    await case_env.settled(case)
    steps = [
        ("assign", {"to": "support-lead"}, "assigned"),
        ("amend", {"description": "The scheduling page shows error 500 since 09:40."}, "amended"),
        ("respond", {"by": "eng-1", "message": "Looking into it"}, "responded"),
        ("pause", {"reason": "waiting for a screenshot"}, "paused"),
        ("resume", {}, "resumed"),
        ("provide_workaround", {"by": "eng-1", "description": "Book from the calendar view"}, "workaround_provided"),
        ("set_severity", {"severity": 1, "reason": "now no workaround helps"}, "severity_changed"),
        ("set_severity", {"severity": 2, "reason": "the workaround helps again"}, "severity_changed"),
        ("request_emergency", {"reason": "the workaround fails for half the clinics"}, "emergency_requested"),
        ("resolve", {"by": "eng-1", "resolution": "Fixed in 4.2"}, "resolved"),
        ("reopen", {"reason": "back again"}, "reopened"),
        ("resolve", {"by": "eng-1", "resolution": "Fixed in 4.2.1"}, "resolved"),
        ("close", {}, "closed"),
    ]
    for update, args, event in steps:
        status = await case_env.update(case, update, args | {"actor": ACTOR})
        assert events(status, event)[-1].detail["actor"] == ACTOR, update
    assert status.description == "The scheduling page shows error 500 since 09:40."
    assert status.assignee == "support-lead" and status.state == "closed"
    final = await case.result()
    resolved = [e.at for e in final.timeline if e.event == "resolved"]
    assert final.resolution_met_at is not None and final.emergency_met_at == resolved[0]  # a reopen keeps it met
    await case_env.keep_history(case, "blockit_every_update")


async def test_customer_escalation_acknowledged_and_a_new_policy_applied(case_env):
    thursday_noon = datetime(2030, 1, 10, 12, 0, tzinfo=EASTERN)
    await case_env.skip_to(thursday_noon)
    case = await case_env.open(blub0x_request("email", thursday_noon))
    await case_env.settled(case)
    await case_env.update(case, "assign", {"to": "support-engineer-1"})
    escalating = await case_env.update(case, "request_escalation", {"reason": "doors offline for an hour"})
    assert escalating.escalation.running == ["customer_escalation"]
    await case_env.skip_to(thursday_noon + timedelta(minutes=5))  # step 1 paged the team; it is read
    acknowledged = await case_env.update(case, "acknowledge", {"by": "support-engineer-1"})
    assert acknowledged.escalation.outcome == "acknowledged" and acknowledged.escalation.running == []
    loaded = tenant_policies.loaded_policy("blub0x", 2030).model_dump(mode="json")
    applied = await case_env.update(case, "apply_policy", {"policy": loaded})
    assert events(applied, "policy_applied")
    await case_env.update(case, "close", {"reason": "duplicate of another case"})
    await case.result()
    await case_env.keep_history(case, "blub0x_escalation_acknowledged_policy_applied")


async def test_an_emergency_call_answered_live_opens_responded_and_pages_nobody(case_env):
    saturday_2am = datetime(2030, 1, 12, 2, 0, tzinfo=EASTERN)
    await case_env.skip_to(saturday_2am)
    call = blub0x_request("emergency_line", saturday_2am, answered_by="oncall-2", source_id=f"CA{uuid.uuid4().hex}")
    case = await case_env.open(call)
    status = await case_env.settled(case)
    assert status.state == "responded" and status.responded_at == saturday_2am
    assert status.escalation.acknowledged_by == "oncall-2" and status.escalation.running == []
    assert status.assignee == "oncall-2"
    await case_env.skip_to(saturday_2am + timedelta(hours=1))
    assert case_env.pages("emergency_intake") == []
    await case_env.update(case, "resolve", {"by": "oncall-2", "resolution": "Reset the door controllers"})
    await case_env.update(case, "close", {})
    await case.result()
    await case_env.keep_history(case, "blub0x_emergency_call_answered_live")


async def test_a_plain_json_start_from_another_client_loads_its_policy_and_opens(case_env):
    """DESIGN: any Temporal client may start a case with the request alone, as plain JSON."""
    await case_env.skip_to(MONDAY_10)
    request = blockit_request(3, MONDAY_10)
    case = await case_env.client.start_workflow(
        "SupportCase",
        request.model_dump(mode="json"),
        id=f"case-blockit-{uuid.uuid4().hex[:24]}",
        task_queue=case_env.queue,
        result_type=CaseStatus,
    )
    status = await case_env.settled(case)
    assert status.response_due_at == MONDAY_10 + timedelta(hours=1)
    await case_env.update(case, "close", {"reason": "spam"})
    await case.result()
    await case_env.keep_history(case, "blockit_plain_json_start")


async def test_a_long_case_continues_as_new_with_its_clocks_and_timeline(tmp_path: Path, policies, smtp_receiver):
    """A server that suggests continue-as-new early (after 120 events) stands in for a case with months of
    comments: the case carries on in a new run with the same deadlines and its whole timeline."""
    async with DevServer(
        tmp_path / "temporal", ui=False, dynamic_config={"limit.historyCount.suggestContinueAsNew": 120}
    ) as server:
        client = await server.connect(data_converter=pydantic_data_converter)
        async with case_worker(client) as queue:
            now = datetime.now(CHICAGO)
            opened = await start_case(
                client, blockit_request(4, now, requester=Requester(email="ana@clinic.example")), queue
            )
            latest = client.get_workflow_handle(opened.case_id)  # whichever run is current
            first_run = (await latest.describe()).run_id
            before = await eventually(lambda: _acknowledged(latest))
            for i in range(60):
                await latest.signal("comment", {"author": "eng-1", "text": f"note {i}"})
            moved_on = await eventually(lambda: _new_run(latest, first_run), timeout=30)
            assert moved_on, "the case never continued as new"
            after = await eventually(lambda: _comments(latest, 60), timeout=30)
            assert (
                after.response_due_at == before.response_due_at and after.resolution_due_at == before.resolution_due_at
            )
            assert [e.event for e in after.timeline[: len(before.timeline)]] == [e.event for e in before.timeline]
            if os.environ.get("SUPPORTFLOW_RECORD_HISTORIES") == "1":
                history = await client.get_workflow_handle(opened.case_id, run_id=first_run).fetch_history()
                (HISTORIES / "blockit_continued_as_new.json").write_text(history.to_json())
            await latest.execute_update("close", {"reason": "spam"})


async def _acknowledged(handle) -> CaseStatus | None:
    status = await handle.query("status", result_type=CaseStatus)
    return status if events(status, "acknowledgement_sent") else None


async def _new_run(handle, first_run: str) -> bool:
    return (await handle.describe()).run_id != first_run


async def _comments(handle, count: int) -> CaseStatus | None:
    try:
        status = await handle.query("status", result_type=CaseStatus)
    except Exception:  # the new run is still taking its first task
        return None
    return status if len(events(status, "comment")) == count else None
