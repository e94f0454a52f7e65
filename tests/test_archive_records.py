"""The case archive through the real workflow: every case's record is written when it opens and, as its last act,
when it closes; a case closed while the database is down completes only once its record is written."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from archive_fixtures import archive_kind, archived_env, postgres  # noqa: F401
from case_fixtures import blockit_request
from support import eventually

from workflows.contracts import CaseStatus

CHICAGO = ZoneInfo("America/Chicago")
MONDAY_10 = datetime(2030, 1, 7, 10, 0, tzinfo=CHICAGO)


async def test_a_case_is_archived_when_it_opens_and_its_final_status_when_it_closes(archived_env):
    env = archived_env
    await env.skip_to(MONDAY_10)
    case = await env.open(blockit_request(2, MONDAY_10))
    opened = await env.settled(case)

    row = await eventually(lambda: asyncio.to_thread(env.archive.status, case.id))
    assert row is not None and row.state == "open" and row.case_id == case.id
    assert row.received_at == MONDAY_10 and row.response_due_at == opened.response_due_at

    await env.update(case, "respond", {"by": "eng-1"})
    await env.update(case, "resolve", {"by": "eng-1", "resolution": "Restarted the scheduler."})
    await env.update(case, "close", {})
    final: CaseStatus = await case.result()

    archived = env.archive.status(case.id)
    assert archived == final, "the record is the whole final status, timeline included"
    assert archived.state == "closed" and [e.event for e in archived.timeline].count("closed") == 1
    assert archived.resolution_met_at == archived.resolved_at is not None


async def test_a_replayed_or_late_opening_write_never_replaces_the_closed_record(archived_env):
    env = archived_env
    await env.skip_to(MONDAY_10)
    case = await env.open(blockit_request(1, MONDAY_10))
    opened = await env.settled(case)
    await env.update(case, "close", {"reason": "spam: not a support request"})
    final: CaseStatus = await case.result()

    assert env.archive.write(final) is False, "the same final status again changes nothing"
    assert env.archive.write(opened) is False, "an opening row never replaces a closed one"
    assert env.archive.status(case.id) == final


@pytest.mark.parametrize("archive_kind", ["postgresql"], indirect=True)
async def test_a_case_closed_while_the_database_is_down_completes_only_after_it_is_back(archived_env, caplog):
    env = archived_env
    caplog.set_level("INFO", logger="supportflow.archive")
    await env.skip_to(MONDAY_10)
    case = await env.open(blockit_request(3, MONDAY_10))
    await env.settled(case)
    await eventually(lambda: asyncio.to_thread(env.archive.status, case.id))

    env.postgres.stop()
    try:
        closing = await env.update(case, "close", {"reason": "customer withdrew the request"})
        assert closing.state == "closed"
        await asyncio.sleep(3)  # several attempts of the final write fail meanwhile
        history = await case.fetch_history()
        assert not any(e.HasField("workflow_execution_completed_event_attributes") for e in history.events), (
            "no case is complete without its record"
        )
        scheduled = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
        assert scheduled[-1].activity_task_scheduled_event_attributes.activity_type.name == "archive_case"
    finally:
        env.postgres.start()

    final: CaseStatus = await asyncio.wait_for(case.result(), 120)
    history = await case.fetch_history()
    assert history.events[-1].HasField("workflow_execution_completed_event_attributes")
    (write,) = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        # The final write's own start: an earlier activity that ends late has its start written late too.
        if e.HasField("activity_task_started_event_attributes")
        and e.activity_task_started_event_attributes.scheduled_event_id == scheduled[-1].event_id
    ]
    assert write > 1, "the final write was retried while the database was down"
    said = [r.getMessage() for r in caplog.records if r.name == "supportflow.archive"]
    down = [line for line in said if "cannot be reached" in line]
    assert len(down) == 1, f"an outage is logged once, not once per attempt: {said}"
    assert f"postgres:***@127.0.0.1:{env.postgres.port}" in down[0] and "archive-test-secret" not in down[0]
    assert any("reachable again" in line for line in said)
    archived = env.archive.status(case.id)
    assert archived == final and archived.state == "closed"
    (closed,) = [e for e in archived.timeline if e.event == "closed"]
    assert closed.detail["reason"] == "customer withdrew the request"
