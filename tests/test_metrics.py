"""The worker's Prometheus endpoint, scraped over HTTP: the SDK's runtime metrics
plus ours (cases opened, breaches and their lateness, ladder steps, deliveries)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from case_fixtures import blockit_request
from support import start_case

from starter.client import connect
from starter.devserver import DevServer, free_port
from worker import WorkerSettings, build_worker, metrics_runtime


async def scrape(url: str, wanted: str, timeout: float = 15.0) -> str:
    """Metrics are exported on an interval: read until `wanted` shows up."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            text = (await http.get(url)).text
            if wanted in text or asyncio.get_running_loop().time() > deadline:
                return text
            await asyncio.sleep(0.25)


async def test_worker_metrics_count_cases_breaches_ladder_steps_and_deliveries(
    tmp_path: Path, policies, smtp_receiver, twilio_receiver, monkeypatch
):
    port = free_port()
    async with DevServer(tmp_path / "temporal", ui=False) as server:
        settings = WorkerSettings.from_env({"TEMPORAL_ADDRESS": server.address, "SUPPORTFLOW_METRICS_PORT": str(port)})
        client = await connect(settings.client, metrics_runtime(settings))
        monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", settings.task_queue)
        async with build_worker(client, settings=settings):
            # Received 31 minutes ago: the Sev 1 response deadline has passed, so the case breaches at once.
            request = blockit_request(1, datetime.now(UTC) - timedelta(minutes=31))
            await start_case(client, request)
            text = await scrape(f"http://127.0.0.1:{port}/metrics", "supportflow_deliveries")
    assert "supportflow_cases_opened{" in text and 'tenant="blockit"' in text and 'channel="email"' in text
    assert "supportflow_breaches{" in text and 'target="response"' in text
    assert "supportflow_breach_lateness" in text
    assert "supportflow_ladder_steps{" in text and 'ladder="response_breach"' in text
    assert "supportflow_deliveries{" in text and 'outcome="delivered"' in text
    assert (
        "temporal_workflow_task_schedule_to_start_latency" in text or "workflow_task_schedule_to_start_latency" in text
    )
