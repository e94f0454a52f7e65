"""`supportflow up`: the embedded dev server, the worker and the gateway, in one command.

The dev server keeps its SQLite file and log under `--data-dir`, so cases
survive a restart; so do the outbox (`outbox.sqlite`), the development API key
and the link-signing secrets (starter/stack.py). Children run in sessions of
their own; Ctrl-C or SIGTERM reaches only this process, which stops them in
order: the services that talk to Temporal first, then the server. The gateway
starts before the worker, because in outbox mode the worker delivers to it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from archive.migrate import migrate
from archive.store import VARIABLE as ARCHIVE_VARIABLE
from archive.store import Archive, ArchiveError, archive_url
from starter.devserver import DevServer, DevServerError, PortInUseError, port_is_free
from starter.encryption import EncryptionKeyError, keyring_from_env
from starter.processes import ChildProcess
from starter.stack import GATEWAY_PORT, Stack, StackSettingsError, kept_secret

GRPC_PORT = 7233
UI_PORT = 8233
GATEWAY_HOST = "127.0.0.1"
READY_TIMEOUT = 60.0


@dataclass
class Service:
    """A process `up` runs beside the server: how to tell it is ready, and what to print about it."""

    process: ChildProcess
    wait_ready: Callable[[], Awaitable[None]]
    urls: list[tuple[str, str]] = field(default_factory=list)


def run(args) -> int:
    port, ui_port = getattr(args, "port", GRPC_PORT), getattr(args, "ui_port", UI_PORT)
    gateway_port = getattr(args, "gateway_port", None) or default_gateway_port()
    return asyncio.run(
        up(
            Path(args.data_dir),
            port=port,
            ui_port=ui_port,
            gateway_port=gateway_port,
            demo=getattr(args, "demo", False),
        )
    )


def default_gateway_port() -> int:
    """`--gateway-port`'s default: SUPPORTFLOW_GATEWAY_PORT, else 8000."""
    given = os.environ.get("SUPPORTFLOW_GATEWAY_PORT", "").strip()
    return int(given) if given.isdigit() else GATEWAY_PORT


async def up(
    data_dir: Path,
    *,
    port: int = GRPC_PORT,
    ui_port: int = UI_PORT,
    gateway_port: int = GATEWAY_PORT,
    demo: bool = False,
) -> int:
    try:
        stack = Stack.plan(data_dir, gateway_port)
        # With payloads encrypted, the web UI decodes them through the gateway's codec routes.
        codec_endpoint = f"{stack.public_url}/codec" if keyring_from_env() else None
    except (EncryptionKeyError, StackSettingsError) as problem:
        print(f"supportflow up: {problem}", file=sys.stderr)
        return 2
    try:
        archive = await asyncio.to_thread(migrated_archive, data_dir)
    except ArchiveError as problem:
        print(f"supportflow up: {problem}", file=sys.stderr)
        return 2
    server = DevServer(data_dir, port=port, ui_port=ui_port, ui_codec_endpoint=codec_endpoint)
    services: list[Service] = []
    interrupted = _stop_on_signals()
    try:
        await server.start()
        for make_service in (gateway_service, worker_service):
            service = make_service(server, stack)
            service.process.start()
            services.append(service)
            await _ready_or_exited(service)
        _print_urls(server, services, stack, archive)
        if demo:
            await _open_demo_cases(server, stack)
        return await _until_something_exits(server, services)
    except PortInUseError as problem:
        print(f"supportflow up: {problem} (options --port, --ui-port and --gateway-port)", file=sys.stderr)
        return 2
    except (DevServerError, ServiceFailed) as problem:
        print(f"supportflow up: {problem}", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        if not interrupted():
            raise
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return 0
    finally:
        for service in reversed(services):
            await service.process.stop()
        await server.stop()
        if interrupted():
            print("supportflow up: stopped", file=sys.stderr)


def migrated_archive(data_dir: Path) -> str:
    """The case archive's URL (SUPPORTFLOW_ARCHIVE_URL, or `<data dir>/cases.sqlite`), its schema at the newest
    migration; the worker and the gateway inherit it. A database that cannot be reached stops `up` here."""
    url = archive_url(data_dir=data_dir)
    archive = Archive(url)
    try:
        migrate(archive)
    finally:
        archive.dispose()
    os.environ[ARCHIVE_VARIABLE] = url
    return archive.where


def worker_service(server: DevServer, stack: Stack) -> Service:
    env = stack.child_env(server.address, server.namespace)
    env["SUPPORTFLOW_METRICS_PORT"] = str(stack.metrics_port)
    if not port_is_free(stack.metrics_port):
        raise ServiceFailed(
            f"port {stack.metrics_port} (worker metrics) is already in use on {GATEWAY_HOST}; "
            "unset SUPPORTFLOW_METRICS_PORT to let `up` choose a free one"
        )
    process = ChildProcess("worker", [sys.executable, "-m", "worker"], stack.data_dir / "logs" / "worker.log", env)
    task_queue = env.get("SUPPORTFLOW_TASK_QUEUE") or "support-cases"
    urls = [("worker", f"polling {task_queue}"), ("worker metrics", stack.metrics_url)]
    return Service(process, lambda: _worker_polling(server, task_queue, process), urls)


def gateway_service(server: DevServer, stack: Stack) -> Service:
    """`supportflow gateway` on 127.0.0.1:`--gateway-port` (default 8000), with a development API key.

    The key is made once per data dir and kept in `<data dir>/dev-api-key`, so it survives restarts;
    it holds every scope and is added to any SUPPORTFLOW_API_KEYS already set. In outbox mode the
    gateway also hosts the outbox, which the worker delivers to.
    """
    url, port = stack.gateway_url, stack.gateway_port
    if not port_is_free(port):
        raise ServiceFailed(
            f"port {port} (gateway) is already in use on {GATEWAY_HOST}; stop what holds it or choose --gateway-port"
        )
    key, key_file = dev_api_key(stack.data_dir)
    env = stack.child_env(server.address, server.namespace)
    env["SUPPORTFLOW_API_KEYS"] = ",".join(
        filter(None, [env.get("SUPPORTFLOW_API_KEYS", "").strip(), f"{key}=intake+operate+admin"])
    )
    if server.ui_port:
        env.setdefault(
            "SUPPORTFLOW_UI_ORIGIN", f"http://{GATEWAY_HOST}:{server.ui_port},http://localhost:{server.ui_port}"
        )
    command = [sys.executable, "-m", "starter.cli", "gateway", "--host", GATEWAY_HOST, "--port", str(port)]
    process = ChildProcess("gateway", command, stack.data_dir / "logs" / "gateway.log", env)
    urls = [("gateway", f"{url}/docs"), ("API key", f"{key} (every scope; kept in {key_file})")]
    if stack.outbox_url:
        urls.append(("outbox", f"{stack.outbox_url} (every message lands here; nothing leaves this machine)"))
    else:
        urls.append(("deliveries", "live: email, SMS, calls, chat and webhooks go to their real addresses"))
    if server.ui_codec_endpoint:
        urls.append(
            (
                "codec",
                f"{server.ui_codec_endpoint}/login?key={key} (open once in the browser that shows the UI, "
                "then include cross-origin credentials in the UI's codec server settings)",
            )
        )
    return Service(process, lambda: _gateway_healthy(url, process), urls)


def dev_api_key(data_dir: Path) -> tuple[str, Path]:
    return kept_secret(data_dir, "dev-api-key")


async def _gateway_healthy(url: str, process: ChildProcess) -> None:
    async with httpx.AsyncClient(timeout=2.0) as http:
        while process.running:
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            await asyncio.sleep(0.25)


async def _open_demo_cases(server: DevServer, stack: Stack) -> None:
    """`--demo`: realistic cases for both seed tenants (starter/demo.py); a failure is reported, not fatal."""
    from starter.demo import open_demo_on

    try:
        print(await open_demo_on(server.address, server.namespace), flush=True)
        if stack.delivery == "outbox":
            print(f"The pages they sent are in the outbox: {stack.outbox_url}", flush=True)
    except Exception as problem:  # the stack is up and useful without the demo
        print(
            f"supportflow up: the demo cases could not be opened: {type(problem).__name__}: {problem}", file=sys.stderr
        )


class ServiceFailed(RuntimeError):
    pass


async def _worker_polling(server: DevServer, task_queue: str, process: ChildProcess) -> None:
    client = await server.connect()
    request = DescribeTaskQueueRequest(
        namespace=server.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while process.running:
        if (await client.workflow_service.describe_task_queue(request)).pollers:
            return
        await asyncio.sleep(0.25)


async def _ready_or_exited(service: Service) -> None:
    process = service.process
    try:
        await asyncio.wait_for(service.wait_ready(), READY_TIMEOUT)
    except TimeoutError:
        raise ServiceFailed(
            f"the {process.name} was not ready after {READY_TIMEOUT:.0f}s; see {process.log_file}"
        ) from None
    if not process.running:
        raise ServiceFailed(process.exit_report())


async def _until_something_exits(server: DevServer, services: list[Service]) -> int:
    while True:
        for process in [server.process, *(service.process for service in services)]:
            if process is not None and not process.running:
                print(f"supportflow up: {process.exit_report()}", file=sys.stderr)
                return 1
        await asyncio.sleep(0.5)


def _stop_on_signals() -> Callable[[], bool]:
    """The first SIGINT/SIGTERM cancels `up`, whose cleanup stops the children; later ones are ignored."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            print("\nsupportflow up: stopping the worker, then the server…", file=sys.stderr)
            if main is not None:
                main.cancel()
        received.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    return lambda: bool(received)


def _print_urls(server: DevServer, services: list[Service], stack: Stack, archive: str) -> None:
    lines = [
        ("Temporal UI", server.ui_url or "(headless)"),
        ("Temporal gRPC", f"{server.address} (namespace {server.namespace})"),
        ("server metrics", server.metrics_url),
    ]
    for service in services:
        lines += service.urls
    lines += [
        ("data", f"{server.db_file} (SQLite WAL: survives a crash; a power loss may drop the last moments)"),
        ("case archive", archive),
        ("logs", str(stack.data_dir / "logs")),
    ]
    width = max(len(label) for label, _ in lines)
    print("supportflow is up")
    for label, value in lines:
        print(f"  {label:<{width}}  {value}")
    print("Ctrl-C stops everything.", flush=True)
