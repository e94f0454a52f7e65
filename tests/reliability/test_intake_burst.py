"""A burst of 1,000 intake requests, 10% of them duplicates, as fast as the machine takes them: every 2xx
names exactly one case, every case is there, and no source id opened two.

Production-shaped: the dev server, the worker and the gateway (uvicorn) each run as their own process, and
the test is the intake systems, 50 requests in flight over real HTTP. Prints the rate, the latency
percentiles and where the CPU went; it asserts no timing, since machines differ. The worker keeps opening
the cases after the burst (a minute or more for 900 on two CPUs); the test waits only for the first ones.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest
from reliability_support import REPO, WorkerProcess, case_status, eventually
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.client import case_id
from starter.devserver import DevServer, free_port
from workflows.contracts import CaseRequest

pytestmark = pytest.mark.takes(20)  # seconds, about: the longest files start first (conftest)

REQUESTS = 1_000
DUPLICATES = REQUESTS // 10
IN_FLIGHT = 50
INTAKE_KEY = "burst-intake-key"


class GatewayProcess:
    """`supportflow gateway` as its own process, as deployed."""

    def __init__(self, address: str, task_queue: str, log_file: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | {
            "TEMPORAL_ADDRESS": address,
            "SUPPORTFLOW_TASK_QUEUE": task_queue,
            "SUPPORTFLOW_API_KEYS": f"{INTAKE_KEY}=intake",
            "SUPPORTFLOW_LOG_LEVEL": "WARNING",
        }
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30.0) -> GatewayProcess:
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "starter.cli", "gateway", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        async def healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"the gateway exited:\n{self.log_file.read_text()}")
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(self.url + "/healthz")).status_code == 200  # also connects it to Temporal

        if not await eventually(healthy, timeout, every=0.2):
            await self.stop()
            raise AssertionError(f"the gateway never became healthy:\n{self.log_file.read_text()}")
        return self

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 15)


def burst_bodies(seed: int = 6) -> list[dict]:
    """900 distinct requests and 100 repeats of some of them, shuffled so a repeat may race its original."""
    originals = [
        {
            "tenant": "blockit",
            "channel": "api",
            "source_id": f"burst-{n:04d}",
            "requester": {"name": f"Requester {n}", "email": f"requester{n}@clinic.example"},
            "subject": f"Burst case {n}",
            "description": "The scheduling page shows an error.",
        }
        for n in range(REQUESTS - DUPLICATES)
    ]
    chooser = random.Random(seed)
    bodies = originals + [dict(chooser.choice(originals)) for _ in range(DUPLICATES)]
    chooser.shuffle(bodies)
    return bodies


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc), to show where a burst's time goes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def test_a_burst_of_1000_requests_with_10_percent_duplicates_opens_each_case_exactly_once(
    tmp_path: Path, policies: Path, smtp_receiver, twilio_receiver, monkeypatch: pytest.MonkeyPatch
):
    queue = "reliability-burst"
    monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
    bodies = burst_bodies()
    async with DevServer(tmp_path / "temporal", ui=False) as server:
        client = await server.connect(data_converter=pydantic_data_converter)
        worker = await WorkerProcess(server.address, queue, tmp_path / "worker.log").start()
        gateway = GatewayProcess(server.address, queue, tmp_path / "gateway.log")
        try:
            await gateway.start()
            answers: list[tuple[dict, int, dict, float]] = []
            gate = asyncio.Semaphore(IN_FLIGHT)
            limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
            headers = {"Authorization": f"Bearer {INTAKE_KEY}"}
            async with httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=60, headers=headers) as http:

                async def send(body: dict) -> None:
                    async with gate:
                        started = time.perf_counter()
                        answer = await http.post("/v1/cases", json=body)
                        seconds = time.perf_counter() - started
                        reply = (
                            answer.json()
                            if answer.headers.get("content-type", "").startswith("application/json")
                            else {}
                        )
                        answers.append((body, answer.status_code, reply, seconds))

                processes = {
                    "gateway": gateway.process.pid,
                    "worker": worker.process.pid,
                    "dev server": server.process._process.pid,
                    "test (client, SMTP)": os.getpid(),
                }
                cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
                began = time.perf_counter()
                await asyncio.gather(*(send(body) for body in bodies))
                elapsed = time.perf_counter() - began
                cpu_used = {
                    name: cpu_seconds(pid) - cpu_before[name]
                    for name, pid in processes.items()
                    if cpu_before[name] is not None
                }

            latencies = [seconds * 1000 for *_, seconds in answers]
            statuses = Counter(status for _, status, _, _ in answers)
            print(
                f"\nburst: {REQUESTS} requests ({DUPLICATES} duplicates), {IN_FLIGHT} in flight, in {elapsed:.1f}s = "
                f"{REQUESTS / elapsed:.0f} requests/s; latency p50 {percentile(latencies, 0.5):.0f} ms, "
                f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms, mean {statistics.mean(latencies):.0f} ms; "
                f"statuses {dict(statuses)}"
            )
            print(
                f"CPU seconds during the burst ({os.cpu_count()} CPUs): "
                + ", ".join(f"{name} {used:.1f}" for name, used in cpu_used.items())
            )

            assert set(statuses) <= {200, 201}, f"not every request was admitted: {dict(statuses)}"
            by_source: dict[str, list[tuple[int, dict]]] = defaultdict(list)
            for body, status, answer, _ in answers:
                by_source[body["source_id"]].append((status, answer))
            expected = {
                source: case_id(CaseRequest.model_validate(body)) for body in bodies for source in [body["source_id"]]
            }
            for source, replies in by_source.items():
                assert {answer["case_id"] for _, answer in replies} == {expected[source]}, source
                assert [status for status, _ in replies].count(201) == 1, f"{source}: {replies}"
                assert all(answer["duplicate"] == (status == 200) for status, answer in replies)
            assert statuses[201] == len(by_source) == REQUESTS - DUPLICATES

            wanted = set(expected.values())

            async def all_listed():
                found = {execution.id async for execution in client.list_workflows("WorkflowType = 'SupportCase'")}
                return found if found == wanted else None

            visible_since = time.perf_counter()
            found = await eventually(all_listed, timeout=60, every=1.0)
            assert found == wanted, f"visibility lists {len(found or ())} of {len(wanted)} cases"
            print(
                f"visibility listed all {len(wanted)} cases {time.perf_counter() - visible_since:.1f}s after the burst"
            )

            async def all_running():
                count = await client.count_workflows("WorkflowType = 'SupportCase' AND ExecutionStatus = 'Running'")
                return count.count == len(wanted) or None

            assert await eventually(all_running, timeout=30, every=1.0), "a case failed or ended"
            # Draining 900 openings takes the worker a minute or more here; the first cases sent show it at work.
            first_sent = [expected[body["source_id"]] for body, *_ in answers[:10]]
            for case in first_sent:
                await case_status(client.get_workflow_handle(case), timeout=60)
            opened = await client.count_workflows("WorkflowType = 'SupportCase' AND ResponseDueAt IS NOT NULL")
            print(
                f"{opened.count} of {len(wanted)} cases opened by the worker {time.perf_counter() - began:.1f}s after the burst began"
            )
        finally:
            await gateway.stop()
            await worker.stop()
