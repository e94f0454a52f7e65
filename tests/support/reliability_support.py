"""What the fault tests share: the worker as a real process (so it can be SIGKILLed), a drill
policy whose ladder climbs in about a minute of real time, and patient polling helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import yaml
from receivers import HttpReceiver
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from workflows.contracts import CaseStatus

REPO = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m worker` as a child process, configured only through its environment, as in production."""

    def __init__(self, address: str, task_queue: str, log_file: Path, **extra_env: str):
        self.env = os.environ | {"TEMPORAL_ADDRESS": address, "SUPPORTFLOW_TASK_QUEUE": task_queue} | extra_env
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    async def start(self, timeout: float = 30.0) -> WorkerProcess:
        """Start it and return once it logs that it is polling."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "polling" not in self.log_since_start():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}:\n{self.log_since_start()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the worker did not start polling in {timeout:.0f}s:\n{self.log_since_start()}")
            await asyncio.sleep(0.1)
        return self

    def log_since_start(self) -> str:
        if not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, running activities are simply lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as an orchestrator would, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.kill()


def write_drill_policy(folder: Path, hooks: HttpReceiver, *, step_wait: str = "1m") -> Path:
    """Tenant `drill`: open around the clock, Sev 1 answers in 30m, and a two-step response-breach ladder
    whose only wait is `step_wait` (1m, the smallest policy unit) so it climbs within a test."""

    def webhook(contact: str) -> dict[str, str]:
        return {"name": contact.replace("-", " ").title(), "webhook": hooks.url(f"/webhook/{contact}")}

    policy = {
        "tenant": "drill",
        "display_name": "Reliability drill",
        "calendar": {
            "timezone": "UTC",
            "hours": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        },
        "intake": {"channels": ["api", "email"], "required": [], "redact_phi": False},
        "default_severity": 1,
        "warn_at": 0.75,
        "severities": {
            1: {
                "name": "Critical",
                "response": {"within": "30m", "clock": "24x7"},
                "resolution": {"within": "4h", "clock": "24x7"},
            },
        },
        "contacts": {name: webhook(name) for name in ("first-responder", "slow-pager", "team-lead")},
        "escalations": {
            "response_warning": [{"notify": ["first-responder"], "via": ["webhook"], "wait": "0m"}],
            "response_breach": [
                {"notify": ["first-responder", "slow-pager"], "via": ["webhook"], "wait": step_wait},
                {"notify": ["team-lead"], "via": ["webhook"], "wait": "0m"},
            ],
        },
    }
    path = folder / "drill.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, every: float = 0.2) -> Any:
    """Ask again until `check` returns something truthy; the last answer if the time runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = await check()
        except Exception:
            result = None
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(every)


async def case_status(handle: WorkflowHandle, timeout: float = 15.0) -> CaseStatus:
    async def ask() -> CaseStatus:
        return await handle.query("status", result_type=CaseStatus)

    status = await eventually(ask, timeout)
    assert status is not None, f"{handle.id} never answered its status query"
    return status


async def timers_and_tasks(handle: WorkflowHandle) -> str:
    """A case's timers and task starts, one per line, to say why a deadline did not fire when a test fails."""
    lines = []
    async for event in handle.fetch_history_events():
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        if kind.startswith(("TIMER_", "WORKFLOW_TASK_STARTED")):
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            armed = f" for {timeout.ToTimedelta().total_seconds():.3f} s" if kind == "TIMER_STARTED" else ""
            lines.append(f"{event.event_id} {event.event_time.ToDatetime(UTC).isoformat()} {kind}{armed}")
    return "\n".join(lines)


def timeline_events(status: CaseStatus, name: str, **detail: Any) -> list:
    return [e for e in status.timeline if e.event == name and all(e.detail.get(k) == v for k, v in detail.items())]
