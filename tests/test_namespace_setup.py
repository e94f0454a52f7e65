"""`supportflow setup-namespace`, the compose stack's setup job, against a bare dev server:
it creates the namespace and registers exactly the contract's search attributes, once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from temporal_fixtures import REPO
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

from starter.devserver import DevServer
from starter.namespace_setup import SetupFailed, contract_attributes, parse_retention, setup_namespace
from workflows import search_attributes


@pytest.fixture(scope="module")
async def bare_server(tmp_path_factory):
    """A dev server started without the contract's attributes, as a fresh cluster would be."""
    async with DevServer(tmp_path_factory.mktemp("bare"), ui=False, register_search_attributes=False) as server:
        yield server


async def custom_attributes(server: DevServer, namespace: str) -> dict[str, int]:
    client = await server.connect()
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return dict(listed.custom_attributes)


def test_the_setup_job_registers_exactly_the_contract_attributes():
    assert contract_attributes() == {key.name: key.indexed_value_type for key in search_attributes.ALL}
    assert len(contract_attributes()) == 10


async def test_a_new_namespace_gets_every_contract_attribute_and_a_second_run_changes_nothing(bare_server):
    client = await bare_server.connect()
    first = await setup_namespace(client, "support-new", timedelta(days=30))
    assert first[0] == "created namespace support-new (retention 30d)"
    assert first[1].startswith("registered ") and "NextDueAt" in first[1]
    assert await custom_attributes(bare_server, "support-new") == contract_attributes()
    assert await setup_namespace(client, "support-new", timedelta(days=30)) == []


async def test_an_existing_namespace_gets_only_the_attributes_it_lacks(bare_server):
    client = await bare_server.connect()
    await _namespace_with(client, "support-partial", {"CaseTenant": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD})
    done = await setup_namespace(client, "support-partial", timedelta(days=3))
    expected = sorted(set(contract_attributes()) - {"CaseTenant"})
    assert done == [f"registered {', '.join(expected)}"]
    assert await custom_attributes(bare_server, "support-partial") == contract_attributes()


async def test_an_attribute_registered_with_another_type_is_named(bare_server):
    client = await bare_server.connect()
    await _namespace_with(client, "support-typo", {"CaseSeverity": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD})
    with pytest.raises(
        SetupFailed, match="CaseSeverity is INDEXED_VALUE_TYPE_KEYWORD, the contract says INDEXED_VALUE_TYPE_INT"
    ):
        await setup_namespace(client, "support-typo", timedelta(days=3))
    assert await custom_attributes(bare_server, "support-typo") == {
        "CaseSeverity": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    }


def test_retention_is_a_duration_of_at_least_a_day():
    assert parse_retention("30d") == timedelta(days=30)
    with pytest.raises(SetupFailed, match="at least 1d"):
        parse_retention("2h")
    with pytest.raises(SetupFailed, match="--retention"):
        parse_retention("thirty days")


def test_the_command_sets_up_the_namespace_named_by_the_environment(bare_server):
    env = {**os.environ, "TEMPORAL_ADDRESS": bare_server.address, "TEMPORAL_NAMESPACE": "support-cli"}
    command = [sys.executable, "-m", "starter.cli", "setup-namespace", "--wait", "10"]
    first = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("namespace support-cli: created namespace support-cli (retention 30d); registered ")
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip() == "namespace support-cli: already set up, nothing to do"


def test_an_unreachable_server_is_named_after_the_wait():
    env = {**os.environ, "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    command = [sys.executable, "-m", "starter.cli", "setup-namespace", "--wait", "0"]
    failed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in failed.stderr


async def _namespace_with(client, namespace: str, attributes: dict[str, int]) -> None:
    """A namespace someone set up by hand, with some attributes already registered."""
    import asyncio

    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest

    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=timedelta(days=1))
    )
    for _ in range(100):
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            break
        except Exception:
            await asyncio.sleep(0.1)
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=namespace, search_attributes=attributes)
    )
