"""`supportflow up --demo`: realistic cases for both seed tenants in different states, opened once;
a second --demo (or a restart with --demo) finds them and opens nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporal_fixtures import REPO, case_worker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.demo import DEMO_CASES, describe, open_demo_cases
from starter.devserver import DevServer, free_port

pytestmark = pytest.mark.takes(17)  # seconds, about: the longest files start first (conftest)


@pytest_asyncio.fixture
async def dev_client(tmp_path: Path, policies, smtp_receiver, twilio_receiver, monkeypatch) -> AsyncIterator[Client]:
    monkeypatch.setenv("SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS", "1")
    async with DevServer(tmp_path / "temporal", ui=False) as server:
        client = await server.connect(data_converter=pydantic_data_converter)
        async with case_worker(client) as queue:
            monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
            yield client


async def test_the_demo_opens_cases_for_both_tenants_at_every_severity_and_in_many_states(dev_client):
    outcomes = await open_demo_cases(dev_client)
    assert all(outcome.opened for outcome in outcomes)
    by_slug = {outcome.slug: outcome.status for outcome in outcomes}
    assert {status.tenant for status in by_slug.values()} == {"blockit", "blub0x"}
    assert {status.severity for status in by_slug.values() if status.tenant == "blockit"} == {1, 2, 3, 4}
    assert {status.severity for status in by_slug.values() if status.tenant == "blub0x"} == {1, 2}
    assert {demo.slug: by_slug[demo.slug].state for demo in DEMO_CASES} == {
        demo.slug: demo.expected_state for demo in DEMO_CASES
    }

    emergency = by_slug["blub0x-emergency-lobby-doors"]
    assert emergency.channel == "emergency_line" and emergency.escalation.running == ["emergency_intake"]
    assert emergency.escalation.acknowledged_by is None, "left paging, for a newcomer to acknowledge"
    assert by_slug["blockit-sev2-reminders"].workaround_at is not None
    assert by_slug["blockit-sev3-export-totals"].paused
    escalated = by_slug["blub0x-regular-badge-printing"]
    assert "customer_escalation" in escalated.escalation.running and escalated.new_installation
    assert all(not status.missing for status in by_slug.values()), "demo requesters leave nothing to ask for"


async def test_a_second_demo_opens_nothing_twice(dev_client):
    first = await open_demo_cases(dev_client)
    again = await open_demo_cases(dev_client)
    assert [outcome.case_id for outcome in again] == [outcome.case_id for outcome in first]
    assert not any(outcome.opened for outcome in again)
    assert [outcome.status.state for outcome in again] == [demo.expected_state for demo in DEMO_CASES]
    assert describe(again).startswith(f"demo cases: 0 opened, {len(DEMO_CASES)} already open")
    started = [w.id async for w in dev_client.list_workflows("WorkflowType = 'SupportCase'")]
    assert sorted(started) == sorted(outcome.case_id for outcome in first)


def test_up_with_demo_opens_the_cases_once_across_restarts(tmp_path):
    ports = {"--port": free_port(), "--ui-port": free_port()}
    env = {**os.environ, "SUPPORTFLOW_GATEWAY_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "starter.cli", "up", "--demo", "--data-dir", str(tmp_path / "data")]
    for flag, port in ports.items():
        command += [flag, str(port)]

    first = _until_demo_printed(command, env)
    assert f"demo cases: {len(DEMO_CASES)} opened, 0 already open" in first
    second = _until_demo_printed(command, env)
    assert f"demo cases: 0 opened, {len(DEMO_CASES)} already open" in second
    assert asyncio.run(_case_count(tmp_path / "data", ports["--port"])) == len(DEMO_CASES)


def _until_demo_printed(command: list[str], env: dict[str, str], timeout: float = 120.0) -> str:
    """Run `supportflow up --demo` until it has printed the demo cases, then stop it with Ctrl-C."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("demo cases:"):
                # The case lines follow at once; read them, then stop.
                for _ in DEMO_CASES:
                    lines.append(process.stdout.readline())  # type: ignore[union-attr]
                break
            assert time.monotonic() < deadline, "".join(lines)
        else:
            raise AssertionError("supportflow up exited before the demo:\n" + "".join(lines))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return "".join(lines)


async def _case_count(data_dir: Path, port: int) -> int:
    async with DevServer(data_dir, port=port, ui=False) as server:
        client = await server.connect()
        return len([w async for w in client.list_workflows("WorkflowType = 'SupportCase'")])
