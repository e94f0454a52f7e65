"""What a bench run stands on: the embedded dev server, local receivers, and the worker and gateway as child processes.

The server is `DevServer` exactly as `supportflow up` starts it (SQLite file,
WAL pragmas, the contract's search attributes), only headless. The worker and
the gateway are started the way `up` starts them (`python -m worker`,
`python -m starter.cli gateway`), each in a process of its own, so /proc
accounts for each one's CPU and memory separately.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from archive.migrate import migrate
from archive.store import Archive
from bench.policy import REPO, write_policy_dir
from bench.procstat import CpuMark, cpu_seconds, rss_bytes
from starter.devserver import HOST, DevServer, free_port
from starter.processes import ChildProcess
from tenant_policies import expand_holidays, read_policy_file
from workflows.policy import LoadedPolicy, years_around

# The receivers the tests use, by the name the tests import them by (pyproject: pythonpath), so that a test
# may import the bench too.
sys.path.insert(0, str(REPO / "tests" / "support"))
from receivers import HttpReceiver, SmtpReceiver

CASE_QUEUE = "support-cases"
FLOOR_QUEUE = "bench-floor"
API_KEY = "bench-intake-key"
READY_TIMEOUT = 60.0
# A worker pointed at a cluster through the environment must not carry that here.
REMOTE_CONNECTION_VARIABLES = ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_API_KEY")


def pid_of(process: ChildProcess) -> int:
    popen = process._process  # ChildProcess keeps its Popen private; the bench only reads the pid
    if popen is None:
        raise RuntimeError(f"the {process.name} is not running")
    return popen.pid


class WorkerFailing(RuntimeError):
    """Workflow tasks are failing: every figure after this point would be meaningless."""


class Stack:
    def __init__(
        self,
        root: Path,
        *,
        worker_env: Mapping[str, str],
        warn_at: float,
        first_breach_wait: str,
        profile: Path | None = None,
        smtp: SmtpReceiver | None = None,
        policy: Callable[[Path, Callable[[str], str]], object] | None = None,
    ):
        self.root = root
        self.profile = profile
        self.profilers: dict[str, subprocess.Popen] = {}
        self.worker_env = dict(worker_env)
        self.warn_at = warn_at
        self.first_breach_wait = first_breach_wait
        self.server = DevServer(root / "temporal", ui=False)
        self.hooks = HttpReceiver()
        self.smtp = smtp or SmtpReceiver()
        self.write_policy = policy or (
            lambda folder, url: write_policy_dir(folder, url, warn_at=warn_at, first_breach_wait=first_breach_wait)
        )
        self.client: Client | None = None
        self.policy_dir = root / "policies"
        self.children: dict[str, ChildProcess] = {}
        self.gateway_url = ""
        self.archive_url = f"sqlite:///{root / 'cases.sqlite'}"
        # Fresh per run, as `supportflow up` makes them per data dir: worker and gateway refuse to start without.
        self.secrets = {
            name: secrets.token_urlsafe(32) for name in ("SUPPORTFLOW_ACK_SECRET", "SUPPORTFLOW_PORTAL_SECRET")
        }
        self._log_read: dict[Path, int] = {}
        self._policies: dict[tuple[str, int], LoadedPolicy] = {}

    async def start(self) -> Stack:
        await self.hooks.start()
        await self.smtp.start()
        self.write_policy(self.policy_dir, lambda contact: self.hooks.url(f"/webhook/{contact}"))
        migrate(Archive(self.archive_url))
        await self.server.start()
        self.client = await self.server.connect(data_converter=pydantic_data_converter)
        return self

    async def stop(self) -> None:
        for name in list(self.children):
            await self.stop_child(name)
        await self.server.stop()
        await self.smtp.stop()
        await self.hooks.stop()

    def loaded_policy(self, tenant: str, year: int) -> LoadedPolicy:
        """The tenant's policy from this stack's policy folder (not the shipped one), read once."""
        key = (tenant, year)
        if key not in self._policies:
            policy = read_policy_file(self.policy_dir / f"{tenant}.yaml")
            self._policies[key] = expand_holidays(policy, *years_around(year))
        return self._policies[key]

    # --- the measured processes ---------------------------------------------------

    def pids(self) -> dict[str, int]:
        found = {"bench": os.getpid()}  # the load generator and the receivers share the machine too
        if self.server.process:
            found["server"] = pid_of(self.server.process)
        return found | {name: pid_of(child) for name, child in self.children.items() if child.running}

    def cpu_mark(self) -> CpuMark:
        return CpuMark(time.monotonic(), {name: cpu_seconds(pid) for name, pid in self.pids().items()})

    def rss(self, name: str) -> int:
        return rss_bytes(self.pids()[name])

    # --- children -----------------------------------------------------------------

    def child_env(self, task_queue: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in REMOTE_CONNECTION_VARIABLES}
        env |= {
            "TEMPORAL_ADDRESS": self.server.address,
            "TEMPORAL_NAMESPACE": self.server.namespace,
            "SUPPORTFLOW_TASK_QUEUE": task_queue,
            "SUPPORTFLOW_POLICY_DIR": str(self.policy_dir),
            "PYTHONUNBUFFERED": "1",
            "SUPPORTFLOW_ARCHIVE_URL": self.archive_url,
        }
        env |= self.secrets
        env |= self.smtp.env()
        return env | self.worker_env

    async def start_worker(self, task_queue: str, *, floor: bool) -> ChildProcess:
        """The production worker (`python -m worker`), or the same worker serving only the floor."""
        module = "bench.floor_worker" if floor else "worker"
        name = "worker"
        process = ChildProcess(
            f"{'floor ' if floor else ''}worker",
            [sys.executable, "-m", module],
            self.root / "logs" / f"{module}.log",
            self.child_env(task_queue),
        )
        process.start()
        self.children[name] = process
        await self._until_ready(process, lambda: self._polling(task_queue))
        if self.profile:
            self._attach_profiler(name, "floor-worker" if floor else "case-worker")
        return process

    async def start_gateway(self) -> ChildProcess:
        """`supportflow gateway` on a free port, with one intake key."""
        port = free_port()
        env = self.child_env(CASE_QUEUE)
        env["SUPPORTFLOW_API_KEYS"] = f"{API_KEY}=intake+operate"
        command = [sys.executable, "-m", "starter.cli", "gateway", "--host", HOST, "--port", str(port)]
        process = ChildProcess("gateway", command, self.root / "logs" / "gateway.log", env)
        process.start()
        self.children["gateway"] = process
        self.gateway_url = f"http://{HOST}:{port}"
        await self._until_ready(process, self._gateway_healthy)
        if self.profile:
            self._attach_profiler("gateway", "gateway")
        return process

    def healthy(self) -> None:
        """Raise WorkerFailing if the worker has logged a failed workflow task (the SDK retries those forever)."""
        process = self.children.get("worker")
        if process is None:
            return
        with process.log_file.open(encoding="utf-8", errors="replace") as log:
            log.seek(self._log_read.get(process.log_file, 0))
            for line in log:
                if "Failed activation" in line or "Failing workflow task" in line:
                    raise WorkerFailing(f"workflow tasks are failing; see {process.log_file}:\n{line[:1500]}")
            self._log_read[process.log_file] = log.tell()

    async def stop_child(self, name: str) -> None:
        process = self.children.pop(name, None)
        if process is not None:
            await process.stop()
        profiler = self.profilers.pop(name, None)
        if profiler is not None:  # py-spy writes its file when the process it samples exits
            await asyncio.to_thread(profiler.wait, 60)

    def _attach_profiler(self, name: str, label: str) -> None:
        """py-spy (https://pypi.org/project/py-spy/) samples the process from outside; its own CPU is not the worker's."""
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.profile.mkdir(parents=True, exist_ok=True)
        command = [
            py_spy,
            "record",
            "--pid",
            str(pid_of(self.children[name])),
            "--rate",
            "50",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(self.profile / f"{label}.txt"),
        ]
        log = (self.root / "logs" / f"py-spy-{label}.log").open("w")
        self.profilers[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    async def _until_ready(self, process: ChildProcess, ready) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not process.running:
                raise RuntimeError(process.exit_report())
            if await ready():
                return
            await asyncio.sleep(0.25)
        raise RuntimeError(f"the {process.name} was not ready after {READY_TIMEOUT:.0f}s; see {process.log_file}")

    async def backlog(self, task_queue: str) -> int:
        """Workflow tasks the server holds for `task_queue` that no worker has taken yet (approximate)."""
        request = self._workflow_tasks(task_queue)
        request.report_stats = True
        return (await self.client.workflow_service.describe_task_queue(request)).stats.approximate_backlog_count

    async def _polling(self, task_queue: str) -> bool:
        request = self._workflow_tasks(task_queue)
        return bool((await self.client.workflow_service.describe_task_queue(request)).pollers)

    def _workflow_tasks(self, task_queue: str) -> DescribeTaskQueueRequest:
        return DescribeTaskQueueRequest(
            namespace=self.server.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )

    async def _gateway_healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                return (await http.get(f"{self.gateway_url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False
