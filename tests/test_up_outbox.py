"""A newcomer's first run, for real: `supportflow up --demo` on free ports, its outbox in headless Chromium, the
ack link on the BluB0X emergency-line page to `oncall-1`, and the ladder stopping. Then what `up` promises
beside it: the worker's metrics, secrets kept in the data dir, and a second stack running side by side.

If Chromium cannot run here, the browser test fails: it never skips.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS
from playwright.async_api import async_playwright
from support import REPO, eventually

from starter.devserver import free_port

pytestmark = pytest.mark.takes(13)  # seconds, about: the longest files start first (conftest)

STARTUP = 180.0
DEMO_LINE = "The pages they sent are in the outbox: "


@dataclass
class UpProcess:
    """One `supportflow up` child and what it printed."""

    process: subprocess.Popen
    data_dir: Path
    gateway_port: int
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, data_dir: Path, *extra: str) -> UpProcess:
        ports = {"--port": free_port(), "--ui-port": free_port(), "--gateway-port": free_port()}
        command = [sys.executable, "-m", "starter.cli", "up", "--data-dir", str(data_dir), *extra]
        for flag, port in ports.items():
            command += [flag, str(port)]
        # What a newcomer has: no delivery, secret or port settings of their own.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTFLOW_", "TWILIO_", "TEMPORAL_"))}
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started = cls(process, data_dir, ports["--gateway-port"])
        threading.Thread(target=started._read, daemon=True).start()
        return started

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = STARTUP) -> str:
        """The first printed line starting with `prefix` (after stripping), waiting for it as long as `up` runs."""
        for line in self.lines:
            if line.strip().startswith(prefix):
                return line.strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("supportflow up exited:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"supportflow up never printed {prefix!r}:\n" + "\n".join(self.lines))

    def printed(self, label: str) -> str:
        """The value `up` printed beside `label` in its list of URLs."""
        return self.wait_for(label).removeprefix(label).strip().split(" ")[0]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    stack = UpProcess.start(tmp_path_factory.mktemp("up-demo") / "data", "--demo")
    try:
        stack.wait_for(DEMO_LINE)
        yield stack
    finally:
        stack.stop()


async def test_a_newcomer_acknowledges_the_emergency_page_from_the_outbox_and_the_ladder_stops(demo: UpProcess):
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium"
    outbox_url = demo.wait_for(DEMO_LINE).removeprefix(DEMO_LINE)
    assert outbox_url == f"http://127.0.0.1:{demo.gateway_port}/outbox", "the outbox is on --gateway-port"
    assert demo.printed("outbox") == outbox_url
    key = demo.printed("API key")
    page_to_oncall = "div.message[data-channel='sms']:has-text('oncall-1'):has-text('Lobby doors will not unlock')"

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(outbox_url)
            for _ in range(150):  # the first page leaves a moment after the case opens
                if await page.locator(page_to_oncall).count():
                    break
                await page.wait_for_timeout(200)
                await page.reload()
            card = page.locator(page_to_oncall).first
            case_id = (await card.get_attribute("data-key")).split(":")[0]
            assert case_id.startswith("case-blub0x-")
            await card.locator("a.ack").click()
            await page.wait_for_selector("text=Acknowledge this page?")
            assert "emergency_intake" in await page.inner_text("main")
            await page.click("button:has-text('Acknowledge as oncall-1')")
            await page.wait_for_selector("text=Acknowledged — paging stopped")
        finally:
            await browser.close()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{demo.gateway_port}") as http:
        status = (await http.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {key}"})).json()
    escalation = status["escalation"]
    assert escalation["running"] == [] and escalation["outcome"] == "acknowledged"
    assert escalation["acknowledged_by"] == "oncall-1"
    events = [entry["event"] for entry in status["timeline"]]
    assert "acknowledged" in events and "ladder_ended" in events


async def test_up_serves_the_worker_metrics_and_keeps_its_secrets(demo: UpProcess):
    metrics = demo.printed("worker metrics")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", metrics)
    async with httpx.AsyncClient() as http:
        scraped = await http.get(metrics)
        assert scraped.status_code == 200 and "temporal_" in scraped.text
        listed = await http.get(
            f"http://127.0.0.1:{demo.gateway_port}/v1/outbox",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {demo.printed('API key')}"},
        )
    assert listed.status_code == 200
    assert {row["channel"] for row in listed.json()} >= {"email", "sms", "voice", "webhook"}
    assert all(row["outcome"] == "delivered" for row in listed.json()), "nothing fails in the outbox"
    for name in ("ack-secret", "portal-secret", "dev-api-key", "outbox.sqlite"):
        assert (demo.data_dir / name).stat().st_mode & 0o777 == 0o600, name


async def test_a_second_stack_runs_beside_the_first_with_its_own_ports_and_outbox(demo: UpProcess, tmp_path: Path):
    second = UpProcess.start(tmp_path / "data")
    try:
        second.wait_for("Ctrl-C stops everything.")
        assert second.printed("worker metrics") != demo.printed("worker metrics")
        assert second.printed("outbox") == f"http://127.0.0.1:{second.gateway_port}/outbox"
        key = second.printed("API key")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{second.gateway_port}") as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/v1/outbox", headers={"Authorization": f"Bearer {key}"})).json() == []
            assert (await http.get(second.printed("worker metrics"))).status_code == 200

            async def first_still_up():
                return (await http.get(f"http://127.0.0.1:{demo.gateway_port}/healthz")).status_code == 200

            assert await eventually(first_still_up)
        assert (tmp_path / "data" / "ack-secret").read_text() != (demo.data_dir / "ack-secret").read_text()
    finally:
        second.stop()
    assert second.process.returncode == 0, "\n".join(second.lines)
