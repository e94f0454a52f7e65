"""The embedded dev server and the worker's start-up checks, against the real `temporal` binary."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType, IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.client import Client, WorkflowExecutionStatus
    from temporalio.service import GrpcCompression
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    import worker as supportflow_worker
    from starter.client import ClientSettings, connect
    from starter.devserver import LOWEST_PORT, DevServer, PortInUseError, ephemeral_ports, free_port
    from workflows import search_attributes

pytestmark = pytest.mark.takes(11)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).parent.parent  # no resolve(): the workflow sandbox re-imports this module and restricts it
PROBE_QUEUE = "devserver-probe"


@workflow.defn(name="DevServerProbe")
class DevServerProbe:
    """Waits on a month-long timer until released: a case-shaped workflow without the case."""

    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.released, timeout=timedelta(days=30))
        except TimeoutError:
            return "timer fired"
        return "released"

    @workflow.signal
    def release(self) -> None:
        self.released = True


@pytest.fixture(scope="module")
async def dev_server(tmp_path_factory):
    server = DevServer(
        tmp_path_factory.mktemp("devserver"), ui=False, dynamic_config={"limit.historyCount.suggestContinueAsNew": 50}
    )
    async with server:
        yield server


def test_dev_server_runs_sqlite_in_wal_mode_with_every_contract_search_attribute(tmp_path):
    server = DevServer(tmp_path, port=7999, dynamic_config={"limit.historyCount.suggestContinueAsNew": 50})
    command = " ".join(server.command())
    assert f"--db-filename {tmp_path / 'temporal.sqlite'}" in command
    assert "--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal" in command
    assert "--ip 127.0.0.1 --port 7999" in command
    assert "--dynamic-config-value limit.historyCount.suggestContinueAsNew=50" in command
    assert command.count("--search-attribute ") == len(search_attributes.ALL) == 10
    assert "--search-attribute NextDueAt=Datetime" in command
    assert "--search-attribute " not in " ".join(DevServer(tmp_path, register_search_attributes=False).command())


async def test_a_taken_port_is_named_before_the_server_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = DevServer(tmp_path, port=port)
        with pytest.raises(PortInUseError, match=f"port {port} \\(Temporal gRPC\\) is already in use"):
            await server.start()
    assert not server.running


async def test_dev_server_registers_the_ten_contract_search_attributes(dev_server):
    client = await dev_server.connect()
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=dev_server.namespace)
    )
    contract = {key.name: key.indexed_value_type for key in search_attributes.ALL}
    assert {name: listed.custom_attributes.get(name) for name in contract} == contract
    assert await supportflow_worker.search_attribute_problems(client, dev_server.namespace) == []


async def test_two_dev_servers_run_side_by_side_on_their_own_ports(dev_server, tmp_path):
    async with DevServer(tmp_path, ui=False) as second:
        assert second.port != dev_server.port
        assert {second.http_port, second.metrics_port}.isdisjoint({dev_server.http_port, dev_server.metrics_port})
        await (await second.connect()).count_workflows()


async def test_restarting_on_the_same_sqlite_file_keeps_a_waiting_workflow(tmp_path):
    server = DevServer(tmp_path, ui=False)
    await server.start()
    try:
        client = await server.connect()
        async with Worker(client, task_queue=PROBE_QUEUE, workflows=[DevServerProbe]):
            handle = await client.start_workflow(
                DevServerProbe.run, id="probe-survives-restart", task_queue=PROBE_QUEUE
            )
            await _until_timer_started(handle)

        assert await server.stop() == 0
        await server.start()

        client = await server.connect()
        handle = client.get_workflow_handle("probe-survives-restart")
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        async with Worker(client, task_queue=PROBE_QUEUE, workflows=[DevServerProbe]):
            await handle.signal(DevServerProbe.release)
            assert await asyncio.wait_for(handle.result(), 30) == "released"
    finally:
        await server.stop()


async def _until_timer_started(handle) -> None:
    for _ in range(100):
        events = [event.event_type async for event in handle.fetch_history_events()]
        if EventType.EVENT_TYPE_TIMER_STARTED in events:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no timer started; history: {events}")


async def test_worker_exits_naming_every_missing_search_attribute(tmp_path):
    async with DevServer(tmp_path, ui=False, register_search_attributes=False) as bare:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TEMPORAL_", "SUPPORTFLOW_"))}
        env.update(
            TEMPORAL_ADDRESS=bare.address,
            TEMPORAL_NAMESPACE=bare.namespace,
            SUPPORTFLOW_ACK_SECRET="a",
            SUPPORTFLOW_PORTAL_SECRET="p",
        )
        command = [sys.executable, "-m", "worker"]
        exited = await asyncio.to_thread(subprocess.run, command, cwd=REPO, env=env, capture_output=True, text=True)
    assert exited.returncode != 0
    assert "Traceback" not in exited.stderr
    for key in search_attributes.ALL:
        assert f"{key.name} (" in exited.stderr


async def test_search_attribute_check_names_only_the_missing_and_the_mistyped(tmp_path):
    async with DevServer(tmp_path, ui=False, register_search_attributes=False) as bare:
        client = await bare.connect()
        registered = {key.name: key.indexed_value_type for key in search_attributes.ALL if key.name != "NextDueAt"}
        registered["CaseSeverity"] = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=bare.namespace, search_attributes=registered)
        )
        problems = await supportflow_worker.search_attribute_problems(client, bare.namespace)
        assert problems == ["CaseSeverity is Keyword, the contract says Int", "NextDueAt (Datetime) is missing"]
        with pytest.raises(supportflow_worker.MissingSearchAttributes, match="NextDueAt"):
            await supportflow_worker.check_search_attributes(client, bare.namespace)


async def test_search_attribute_check_moves_on_when_the_server_cannot_list_them():
    test_server = Path(sys.executable).parent / "temporal-test-server"
    async with await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(test_server)) as env:
        assert await supportflow_worker.search_attribute_problems(env.client, env.client.namespace) is None
        await supportflow_worker.check_search_attributes(env.client, env.client.namespace)


async def test_build_worker_refuses_a_client_without_the_pydantic_converter(dev_server):
    plain = await Client.connect(dev_server.address)
    with pytest.raises(ValueError, match="pydantic_data_converter"):
        supportflow_worker.build_worker(plain)


@pytest.mark.parametrize(
    ("given", "expected"), [({}, GrpcCompression.NONE), ({"TEMPORAL_GRPC_COMPRESSION": "GZIP"}, GrpcCompression.GZIP)]
)
async def test_the_client_compresses_grpc_only_when_asked(dev_server, given, expected):
    """Off by default: deflating every start cost the gateway CPU that a loopback or a LAN never pays back."""
    settings = ClientSettings.from_env({"TEMPORAL_ADDRESS": dev_server.address, **given})
    client = await connect(settings)
    assert client.service_client.config.grpc_compression is expected
    assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version


def test_worker_settings_default_to_the_contract_and_the_measured_tuning():
    settings = supportflow_worker.WorkerSettings.from_env({})
    client = settings.client
    assert (client.address, client.namespace, settings.task_queue) == ("localhost:7233", "default", "support-cases")
    assert settings.max_cached_workflows == 10_000
    assert (settings.max_concurrent_activities, settings.max_concurrent_workflow_tasks) == (200, 100)
    assert (settings.workflow_pollers, settings.activity_pollers) == (4, 4)
    assert settings.graceful_shutdown_seconds == 10
    assert settings.workflow_sandbox == "shared"
    assert settings.gc == "idle"
    assert settings.metrics_port is None
    assert not settings.client.tls
    assert settings.client.grpc_compression == "none"


def test_worker_settings_read_every_variable():
    settings = supportflow_worker.WorkerSettings.from_env(
        {
            "TEMPORAL_ADDRESS": "temporal.internal:7233",
            "TEMPORAL_NAMESPACE": "support",
            "SUPPORTFLOW_TASK_QUEUE": "cases-eu",
            "SUPPORTFLOW_MAX_CACHED_WORKFLOWS": "50000",
            "SUPPORTFLOW_MAX_CONCURRENT_ACTIVITIES": "500",
            "SUPPORTFLOW_MAX_CONCURRENT_WORKFLOW_TASKS": "20",
            "SUPPORTFLOW_WORKFLOW_POLLERS": "8",
            "SUPPORTFLOW_ACTIVITY_POLLERS": "16",
            "SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS": "2.5",
            "SUPPORTFLOW_WORKFLOW_SANDBOX": "Strict",
            "SUPPORTFLOW_GC": "Python",
            "SUPPORTFLOW_METRICS_PORT": "9464",
            "SUPPORTFLOW_METRICS_HOST": "0.0.0.0",
            "SUPPORTFLOW_LOG_LEVEL": "debug",
        }
    )
    assert settings == supportflow_worker.WorkerSettings(
        client=ClientSettings(address="temporal.internal:7233", namespace="support", task_queue="cases-eu"),
        max_cached_workflows=50_000,
        max_concurrent_activities=500,
        max_concurrent_workflow_tasks=20,
        workflow_pollers=8,
        activity_pollers=16,
        graceful_shutdown_seconds=2.5,
        workflow_sandbox="strict",
        gc="python",
        metrics_port=9464,
        metrics_host="0.0.0.0",
        log_level="DEBUG",
    )


def test_worker_settings_turn_tls_on_for_an_api_key_or_a_client_certificate():
    cloud = supportflow_worker.WorkerSettings.from_env({"TEMPORAL_API_KEY": "secret"}).client
    assert cloud.tls and cloud.api_key == "secret"
    mtls = supportflow_worker.WorkerSettings.from_env(
        {"TEMPORAL_TLS_CERT": "c.pem", "TEMPORAL_TLS_KEY": "k.pem"}
    ).client
    assert mtls.tls and (mtls.tls_cert, mtls.tls_key) == (Path("c.pem"), Path("k.pem"))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SUPPORTFLOW_MAX_CACHED_WORKFLOWS": "lots"}, "SUPPORTFLOW_MAX_CACHED_WORKFLOWS"),
        ({"SUPPORTFLOW_WORKFLOW_POLLERS": "0"}, "SUPPORTFLOW_WORKFLOW_POLLERS"),
        ({"SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS": "-1"}, "SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS"),
        ({"SUPPORTFLOW_METRICS_PORT": "70000"}, "SUPPORTFLOW_METRICS_PORT"),
        ({"SUPPORTFLOW_LOG_LEVEL": "loud"}, "SUPPORTFLOW_LOG_LEVEL"),
        ({"SUPPORTFLOW_WORKFLOW_SANDBOX": "off"}, "SUPPORTFLOW_WORKFLOW_SANDBOX"),
        ({"SUPPORTFLOW_GC": "off"}, "SUPPORTFLOW_GC"),
        ({"TEMPORAL_TLS_CERT": "c.pem"}, "TEMPORAL_TLS_KEY"),
        ({"TEMPORAL_GRPC_COMPRESSION": "brotli"}, "TEMPORAL_GRPC_COMPRESSION"),
    ],
)
def test_a_bad_worker_setting_names_its_variable(env, named):
    with pytest.raises(supportflow_worker.SettingsError, match=named):
        supportflow_worker.WorkerSettings.from_env(env)


def test_the_strict_sandbox_re_imports_the_workflow_definitions_and_the_shared_one_passes_them_through():
    shared, strict = supportflow_worker.passthrough_modules("shared"), supportflow_worker.passthrough_modules("strict")
    definitions = supportflow_worker.WORKFLOW_DEFINITIONS
    assert definitions <= set(shared) and not definitions & set(strict)
    assert set(shared) - set(strict) == definitions, "the two differ only in the workflow definitions"
    assert {"workflows.calendar", "workflows.state", "pydantic"} <= set(strict)


def test_free_ports_lie_below_the_range_the_dev_server_picks_its_own_from():
    """The dev server binds port 0 for its internal services after ours are chosen: a port of ours from that
    range could be picked again before we bind it, and the server would exit on "address already in use"."""
    kernel_picks = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    for port in ports:
        assert LOWEST_PORT <= port < kernel_picks.start, (port, kernel_picks)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", port))  # free, as promised
