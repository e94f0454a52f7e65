"""The supportflow worker: every workflow and activity, tuned for many long-lived open cases.

Run it with `supportflow worker` or `python -m worker`. Everything comes
from the environment, so the same process serves the dev server, a
self-hosted cluster and Temporal Cloud.

| variable | default | why |
|---|---|---|
| `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `SUPPORTFLOW_TASK_QUEUE`, TLS, API key, encryption | | the connection, as every client reads it (starter/client.py) |
| `SUPPORTFLOW_ACK_SECRET`, `SUPPORTFLOW_PORTAL_SECRET` | required | sign the links deliveries carry; `supportflow up` writes them (docs/security.md) |
| `SUPPORTFLOW_MAX_CACHED_WORKFLOWS` | `10000` | at least the number of open cases: an evicted case replays its whole history on its next deadline |
| `SUPPORTFLOW_MAX_CONCURRENT_ACTIVITIES` | `200` | deliveries are I/O-bound and a pile-up of deadlines pages many people at once |
| `SUPPORTFLOW_MAX_CONCURRENT_WORKFLOW_TASKS` | `100` | |
| `SUPPORTFLOW_WORKFLOW_POLLERS` | `4` | a fixed count: autoscaling pollers with a minimum of 1 stalled once |
| `SUPPORTFLOW_ACTIVITY_POLLERS` | `4` | likewise |
| `SUPPORTFLOW_WORKFLOW_SANDBOX` | `shared` | `shared` imports the workflow modules once per worker (about 55 KB of RSS less per open case, measured); `strict` re-imports them for every case, so the sandbox also catches a stray clock or random call in the workflow code itself at run time (the tests run `strict`) |
| `SUPPORTFLOW_GC` | `idle` | `idle` collects what is new once a second and freezes what survives; the full walk over everything runs only while the worker is idle, or once its heap has doubled (idle_collector.py: at 2,000 cached cases that walk paused every task in flight for 1.2 to 2.1 s, measured); `python` leaves CPython's collector as it is |
| `SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS` | `10` | how long running deliveries may finish after SIGTERM/SIGINT |
| `SUPPORTFLOW_METRICS_PORT` | unset | serve Prometheus metrics on this port |
| `SUPPORTFLOW_METRICS_HOST` | `127.0.0.1` | the metrics bind address; `0.0.0.0` when a scraper runs in another container |
| `SUPPORTFLOW_LOG_LEVEL` | `INFO` | |

At start the worker lists the namespace's search attributes and exits,
naming any contract attribute that is missing or has the wrong type: a case
upserting an unknown attribute would fail its workflow tasks forever.
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import environment
from archive.store import ArchiveError
from environment import SettingsError
from idle_collector import IdleCollector
from starter import logs
from starter.client import ClientSettings, TemporalUnavailable, connect
from workflows import search_attributes

log = logging.getLogger("supportflow.worker")

# Imported once, outside the sandbox: the libraries our models need, and our own deterministic modules
# (models, calendar and SLA math), which would otherwise be re-imported for every case.
LIBRARIES_PASSED_THROUGH = ("pydantic", "pydantic_core", "annotated_types", "zoneinfo")
# The workflow definitions. The `strict` sandbox re-imports them for every case, which is what catches a
# stray `datetime.now()` in them at run time; `shared` imports them once, like the rest of `workflows`.
WORKFLOW_DEFINITIONS = frozenset({"workflows.case", "workflows.auditor"})
SANDBOXES = ("shared", "strict")
COLLECTORS = ("idle", "python")
REQUIRED_SECRETS = ("SUPPORTFLOW_ACK_SECRET", "SUPPORTFLOW_PORTAL_SECRET")


@dataclass(frozen=True)
class WorkerSettings:
    client: ClientSettings = field(default_factory=ClientSettings)
    max_cached_workflows: int = 10_000
    max_concurrent_activities: int = 200
    max_concurrent_workflow_tasks: int = 100
    workflow_pollers: int = 4
    activity_pollers: int = 4
    workflow_sandbox: str = "shared"
    gc: str = "idle"
    graceful_shutdown_seconds: float = 10.0
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    @property
    def task_queue(self) -> str:
        return self.client.task_queue

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        """Read the table in this module's docstring; a bad value raises `SettingsError` naming the variable."""
        values: dict[str, Any] = {"client": ClientSettings.from_env(env)}
        for field_name, variable, parse in ENVIRONMENT:
            raw = environment.value(variable, env)
            if raw:
                values[field_name] = parse(variable, raw)
        return cls(**values)


def _count(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects nan
        raise SettingsError(f"{name}={value!r}: expected a number of seconds, 0 or more")
    return seconds


def _port(name: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r}: expected a port number from 1 to 65535")
    return int(value)


def _log_level(name: str, value: str) -> str:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"{name}={value!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value.upper()


def _one_of(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    return lambda name, value: environment.one_of(name, value, choices)


# (WorkerSettings field, environment variable, parser); an unset or empty variable keeps the default.
ENVIRONMENT: tuple[tuple[str, str, Callable[[str, str], Any]], ...] = (
    ("max_cached_workflows", "SUPPORTFLOW_MAX_CACHED_WORKFLOWS", _count),
    ("max_concurrent_activities", "SUPPORTFLOW_MAX_CONCURRENT_ACTIVITIES", _count),
    ("max_concurrent_workflow_tasks", "SUPPORTFLOW_MAX_CONCURRENT_WORKFLOW_TASKS", _count),
    ("workflow_pollers", "SUPPORTFLOW_WORKFLOW_POLLERS", _count),
    ("activity_pollers", "SUPPORTFLOW_ACTIVITY_POLLERS", _count),
    ("workflow_sandbox", "SUPPORTFLOW_WORKFLOW_SANDBOX", _one_of(SANDBOXES)),
    ("gc", "SUPPORTFLOW_GC", _one_of(COLLECTORS)),
    ("graceful_shutdown_seconds", "SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS", _seconds),
    ("metrics_port", "SUPPORTFLOW_METRICS_PORT", _port),
    ("metrics_host", "SUPPORTFLOW_METRICS_HOST", lambda name, value: value),
    ("log_level", "SUPPORTFLOW_LOG_LEVEL", _log_level),
)


def registered(client: Client | None = None) -> tuple[list[type], list]:
    """The workflows and activities this worker serves.

    Imported here rather than at module top so that a broken workflow module
    fails loudly at worker start, with its own traceback, and so that tools
    that only need the settings or the search-attribute check never load it.
    The fleet audit's activities query visibility, so they come only with a
    `client` (the replay tests need the workflows alone).
    """
    from activities.archive import archiver_for
    from activities.deliver import deliver
    from activities.policy import load_policy
    from archive.store import archive_url
    from workflows.auditor import FleetAuditWorkflow
    from workflows.case import SupportCaseWorkflow

    activities: list = [load_policy, deliver, archiver_for(archive_url()).archive_case]
    if client is not None:
        from activities.audit import FleetAuditor

        auditor = FleetAuditor(client)
        activities += [auditor.find_missed_deadlines, auditor.alert]
    return [SupportCaseWorkflow, FleetAuditWorkflow], activities


def passthrough_modules(sandbox: str = "shared") -> list[str]:
    """Every `workflows` module (but the workflow definitions when `strict`), plus the libraries the models use.

    Each module the sandbox re-imports costs every open case its own copy:
    for the definitions that is about 55 KB of RSS per case and 9 ms of
    compiling per new case where no bytecode is cached. `strict` pays that so that the
    sandbox checks the workflow's own code too; the replay tests run `strict`.
    """
    import workflows

    ours = [f"workflows.{module.name}" for module in pkgutil.iter_modules(workflows.__path__)]
    if sandbox == "strict":
        ours = [name for name in ours if name not in WORKFLOW_DEFINITIONS]
    return [*LIBRARIES_PASSED_THROUGH, *ours]


def metrics_runtime(settings: WorkerSettings) -> Runtime | None:
    if settings.metrics_port is None:
        return None
    bind_address = f"{settings.metrics_host}:{settings.metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


async def search_attribute_problems(client: Client, namespace: str) -> list[str] | None:
    """Each contract attribute the namespace lacks or types differently; None when the server cannot list them."""
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    except RPCError as problem:
        if problem.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise
    problems = []
    for key in search_attributes.ALL:
        expected = IndexedValueType.Name(key.indexed_value_type)  # type: ignore[arg-type]
        registered_type = listed.custom_attributes.get(key.name)
        if registered_type is None:
            problems.append(f"{key.name} ({_type_label(expected)}) is missing")
        elif registered_type != key.indexed_value_type:
            actual = IndexedValueType.Name(registered_type)
            problems.append(f"{key.name} is {_type_label(actual)}, the contract says {_type_label(expected)}")
    return problems


def _type_label(indexed_value_type: str) -> str:
    name = indexed_value_type.removeprefix("INDEXED_VALUE_TYPE_")
    return search_attributes.CLI_TYPES.get(name, name.title())


class MissingSearchAttributes(RuntimeError):
    def __init__(self, namespace: str, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"namespace {namespace!r} lacks contract search attributes; a case would fail its workflow tasks "
            "forever:\n  " + "\n  ".join(problems) + "\nCreate each with `temporal operator search-attribute "
            f"create --namespace {namespace} --name <Name> --type <Type>` (`supportflow up` registers them itself)."
        )


async def check_search_attributes(client: Client, namespace: str) -> None:
    problems = await search_attribute_problems(client, namespace)
    if problems is None:
        log.info("the server cannot list search attributes (the time-skipping test server); not checked")
    elif problems:
        raise MissingSearchAttributes(namespace, problems)


def sandbox_runner(sandbox: str = "shared") -> SandboxedWorkflowRunner:
    """The workflow sandbox: our pure modules and pydantic pass through, the workflow definitions too unless `strict`."""
    if sandbox not in SANDBOXES:
        raise ValueError(f"sandbox {sandbox!r}: expected one of {', '.join(SANDBOXES)}")
    passthrough = passthrough_modules(sandbox)
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*passthrough))


def build_worker(client: Client, task_queue: str | None = None, *, settings: WorkerSettings | None = None) -> Worker:
    """The worker for `client`, tuned by `settings` (by default, from the environment)."""
    if not issubclass(client.data_converter.payload_converter_class, PydanticPayloadConverter):
        raise ValueError(
            "build_worker needs a client connected with temporalio.contrib.pydantic.pydantic_data_converter"
        )
    settings = settings or WorkerSettings.from_env()
    workflows, activities = registered(client)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflows,
        activities=activities,
        workflow_runner=sandbox_runner(settings.workflow_sandbox),
        max_cached_workflows=settings.max_cached_workflows,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.workflow_pollers),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.activity_pollers),
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )


async def run_worker(settings: WorkerSettings | None = None) -> None:
    """Connect, check the search attributes, then poll until SIGTERM or SIGINT and shut down gracefully."""
    settings = settings or WorkerSettings.from_env()
    client = await connect(settings.client, metrics_runtime(settings))
    await check_search_attributes(client, settings.client.namespace)
    from archive.store import Archive

    if problem := await asyncio.to_thread(Archive.from_env().reachable):  # said at start; writes retry until it is back
        log.warning("%s; case records wait for it, and a closing case completes once its record is written", problem)
    worker = build_worker(client, settings=settings)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    polling = asyncio.create_task(worker.run())
    collecting = asyncio.create_task(IdleCollector().run()) if settings.gc == "idle" else None
    log.info(
        "polling %s on %s (namespace %s)%s",
        settings.task_queue,
        settings.client.address,
        settings.client.namespace,
        f"; metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics" if settings.metrics_port else "",
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not polling.done():
        log.info("stopping: running activities get %ss to finish", settings.graceful_shutdown_seconds)
        await worker.shutdown()
    stopping.cancel()
    if collecting is not None:
        collecting.cancel()
    await polling  # re-raises a fatal worker error


def main() -> int:
    """The entry point: the secrets deliveries sign links with must be set before any case is touched."""
    try:
        settings = WorkerSettings.from_env()
        for secret in REQUIRED_SECRETS:
            environment.required(secret, why="deliveries sign acknowledgement and portal links with it")
    except SettingsError as problem:
        sys.exit(f"supportflow worker: {problem}")
    logs.configure(settings.log_level)
    try:
        asyncio.run(run_worker(settings))
    except (SettingsError, TemporalUnavailable, MissingSearchAttributes, ArchiveError) as problem:
        sys.exit(f"supportflow worker: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
