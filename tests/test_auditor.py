"""The fleet auditor on the real dev server: a Schedule that finds open cases
whose deadline passed with no breach recorded (a worker that was down), and
alerts with a metric and a webhook; once a worker catches up, it finds nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from case_fixtures import blockit_request
from support import eventually, opened_status, start_case
from temporal_fixtures import REPO, case_worker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.audit import FleetAuditor, missed_deadline_query
from starter import auditor
from starter.devserver import DevServer, free_port
from worker import sandbox_runner
from workflows import search_attributes as sa
from workflows.auditor import FleetAuditWorkflow
from workflows.contracts import CaseStatus

pytestmark = pytest.mark.takes(28)  # seconds, about: the longest files start first (conftest)


@pytest_asyncio.fixture
async def dev_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DevServer]:
    monkeypatch.setenv("SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS", "1")
    async with DevServer(tmp_path / "temporal", ui=False) as server:
        yield server


@pytest_asyncio.fixture
async def audit_metrics(dev_server: DevServer) -> AsyncIterator[tuple[Client, str]]:
    """A client whose runtime serves Prometheus metrics, as a worker started with SUPPORTFLOW_METRICS_PORT does."""
    port = free_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    client = await dev_server.connect(data_converter=pydantic_data_converter, runtime=runtime)
    yield client, f"http://127.0.0.1:{port}/metrics"


def auditor_only_worker(client: Client, queue: str) -> Worker:
    """The audit and nothing else: a case on this server stays unprocessed, as if its workers were down."""
    fleet = FleetAuditor(client)
    return Worker(
        client,
        task_queue=queue,
        workflows=[FleetAuditWorkflow],
        activities=[fleet.find_missed_deadlines, fleet.alert],
        workflow_runner=sandbox_runner("strict"),
    )


async def test_the_audit_schedule_is_created_once_and_updated_in_place(dev_server):
    client = await dev_server.connect(data_converter=pydantic_data_converter)
    first = await auditor.ensure_schedule(client, auditor.parse_every("5m"), "audit-queue")
    again = await auditor.ensure_schedule(client, auditor.parse_every("5m"), "audit-queue")
    faster = await auditor.ensure_schedule(client, auditor.parse_every("1m"), "audit-queue")
    assert (first.outcome, again.outcome, faster.outcome) == ("created", "unchanged", "updated")

    described = await client.get_schedule_handle(auditor.SCHEDULE_ID).describe()
    assert [interval.every for interval in described.schedule.spec.intervals] == [timedelta(minutes=1)]
    assert described.schedule.action.workflow == "FleetAudit"
    assert described.schedule.action.task_queue == "audit-queue"
    assert [s.id async for s in await client.list_schedules()] == [auditor.SCHEDULE_ID]


def test_every_takes_seconds_minutes_hours_or_days():
    assert auditor.parse_every("30s") == timedelta(seconds=30)
    assert auditor.parse_every("5m") == timedelta(minutes=5)
    with pytest.raises(auditor.AuditCommandFailed, match="--every '5 minutes'"):
        auditor.parse_every("5 minutes")


async def test_the_audit_catches_a_case_whose_worker_was_stopped_across_its_deadline(
    dev_server, audit_metrics, policies, http_receiver, smtp_receiver, twilio_receiver, monkeypatch
):
    client = await dev_server.connect(data_converter=pydantic_data_converter)
    audit_client, metrics_url = audit_metrics
    monkeypatch.setenv("SUPPORTFLOW_AUDIT_GRACE_SECONDS", "1")
    monkeypatch.setenv("SUPPORTFLOW_AUDIT_WEBHOOK", http_receiver.url("/audit"))
    cases_queue, audit_queue = f"cases-{uuid.uuid4().hex[:8]}", f"audit-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", cases_queue)

    # A blockit Sev 1 case whose 30-minute response deadline is 15 seconds away, opened while its worker runs...
    received_at = datetime.now(UTC) - timedelta(minutes=29, seconds=45)
    async with case_worker(client, cases_queue):
        opened = await start_case(client, blockit_request(1, received_at, source_id=f"<{uuid.uuid4()}@mail.example>"))
        due = await eventually(lambda: _next_due_at(client, opened.case_id), timeout=20)
        assert due == received_at + timedelta(minutes=30)
        assert await opened_status(client.get_workflow_handle(opened.case_id)), "the case's first task never ran"
    # ...and no worker for it across that deadline.
    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds() + 2, 0))

    await auditor.ensure_schedule(client, auditor.parse_every("1h"), audit_queue)
    async with auditor_only_worker(audit_client, audit_queue):
        report = await auditor.run_now(client)
    assert [(m.case_id, m.tenant, m.target, m.due_at) for m in report.missed] == [
        (opened.case_id, "blockit", "response", due)
    ]
    assert report.audit_id.startswith(f"{auditor.SCHEDULE_ID}-")
    assert report.alert == "webhook answered HTTP 200"

    (alert,) = http_receiver.requests_to("/audit")
    assert alert.json()["missed"][0]["case_id"] == opened.case_id
    assert alert.headers["idempotency-key"] == f"{report.audit_id}:alert"
    scraped = httpx.get(metrics_url).text
    assert _sample(scraped, "supportflow_audit_missed_deadlines", 'tenant="blockit"') == 1

    # A worker comes back: the case records its breach, and the next audit finds nothing.
    async with case_worker(client, cases_queue):
        status = await eventually(lambda: _breached(client, opened.case_id), timeout=20)
        assert status.breaches == ["response"]
        assert await eventually(lambda: _audit_query_empty(client), timeout=20)
        async with auditor_only_worker(audit_client, audit_queue):
            rerun = await asyncio.to_thread(_cli, ["audit", "run"], dev_server)
    assert rerun.returncode == 0, rerun.stderr
    assert "no open case missed a deadline" in rerun.stdout
    assert len(http_receiver.requests_to("/audit")) == 1


async def test_the_audit_catches_a_case_no_worker_ever_picked_up(dev_server, audit_metrics, policies, monkeypatch):
    """`start_case` gives a case its `NextDueAt` at start, so the audit sees it before any worker has."""
    client = await dev_server.connect(data_converter=pydantic_data_converter)
    audit_client, _ = audit_metrics
    monkeypatch.setenv("SUPPORTFLOW_AUDIT_GRACE_SECONDS", "1")
    cases_queue, audit_queue = f"cases-{uuid.uuid4().hex[:8]}", f"audit-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", cases_queue)  # no worker polls it

    received_at = datetime.now(UTC) - timedelta(minutes=29, seconds=57)
    opened = await start_case(client, blockit_request(1, received_at, source_id=f"<{uuid.uuid4()}@mail.example>"))
    due = received_at + timedelta(minutes=30)
    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds() + 2, 0))

    await auditor.ensure_schedule(client, auditor.parse_every("1h"), audit_queue)
    async with auditor_only_worker(audit_client, audit_queue):
        report = await auditor.run_now(client)
    assert [(m.case_id, m.tenant, m.target, m.due_at) for m in report.missed] == [
        (opened.case_id, "blockit", "response", due)
    ]


async def _next_due_at(client: Client, case_id: str) -> datetime | None:
    found = (await client.get_workflow_handle(case_id).describe()).typed_search_attributes
    return found.get(sa.NEXT_DUE_AT)


async def _breached(client: Client, case_id: str) -> CaseStatus | None:
    status = await client.get_workflow_handle(case_id).query("status", result_type=CaseStatus)
    return status if status.breaches else None


async def _audit_query_empty(client: Client) -> bool:
    cutoff = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return not [w async for w in client.list_workflows(missed_deadline_query(cutoff))]


def _cli(arguments: list[str], server: DevServer) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": server.address, "TEMPORAL_NAMESPACE": server.namespace}
    command = [sys.executable, "-m", "starter.cli", *arguments]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def _sample(exposition: str, name: str, label: str) -> float | None:
    """The value of one Prometheus sample whose name starts with `name` and carries `label`."""
    for line in exposition.splitlines():
        if line.startswith(name) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return None
