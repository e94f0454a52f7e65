"""`supportflow setup-namespace`: the namespace and exactly the contract's search attributes, on any cluster.

The compose stack's one-shot setup job runs it; so can an operator pointing
at an existing cluster. It waits for the server, creates the namespace when
it is missing, then registers whichever contract attributes
(workflows/search_attributes.py) the namespace lacks, and only those. Running
it again changes nothing. An attribute registered with another type is an
error naming it: the cases would fail their workflow tasks forever.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, NoReturn

from workflows import search_attributes

if TYPE_CHECKING:
    from temporalio.client import Client

DEFAULT_RETENTION = "30d"
DEFAULT_WAIT = 120.0


class SetupFailed(Exception):
    pass


def contract_attributes() -> dict[str, int]:
    """Name → IndexedValueType for every contract attribute: what the setup job registers, and nothing else."""
    return {key.name: int(key.indexed_value_type) for key in search_attributes.ALL}


def parse_retention(text: str) -> timedelta:
    from workflows.durations import parse_duration

    try:
        retention = parse_duration(text)
    except ValueError as problem:
        raise SetupFailed(f"--retention: {problem}") from None
    if retention < timedelta(days=1):
        raise SetupFailed(f"--retention {text}: Temporal keeps closed workflows at least 1d")
    return retention


async def setup_namespace(client: Client, namespace: str, retention: timedelta) -> list[str]:
    """Create `namespace` if missing and register the contract attributes it lacks; returns what was done."""
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
    from temporalio.service import RPCError, RPCStatusCode

    done = []
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as problem:
        if problem.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=retention)  # type: ignore[arg-type]
        )
        done.append(f"created namespace {namespace} (retention {retention.days}d)")
    missing = await _missing_attributes(client, namespace)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)  # type: ignore[arg-type]
        )
        done.append(f"registered {', '.join(sorted(missing))}")
        await _until(lambda: _all_listed(client, namespace), "the search attributes to be listed")
    return done


async def _missing_attributes(client: Client, namespace: str) -> dict[str, int]:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.service import RPCError, RPCStatusCode

    async def listed():
        try:
            return await _listed(client, namespace)
        except RPCError as problem:  # a namespace created a moment ago takes a few seconds to reach every cache
            if problem.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE):
                return None
            raise

    found = await _until(listed, f"namespace {namespace} to answer")
    wrong = [
        f"{name} is {IndexedValueType.Name(found[name])}, the contract says {IndexedValueType.Name(wanted)}"  # type: ignore[arg-type]
        for name, wanted in contract_attributes().items()
        if name in found and found[name] != wanted
    ]
    if wrong:
        raise SetupFailed(
            f"namespace {namespace} has contract search attributes with another type; cases would fail their "
            "workflow tasks. Fix them by hand (temporal operator search-attribute remove/create):\n  "
            + "\n  ".join(wrong)
        )
    return {name: wanted for name, wanted in contract_attributes().items() if name not in found}


async def _listed(client: Client, namespace: str) -> Mapping[str, int]:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    answer = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return dict(answer.custom_attributes)


async def _all_listed(client: Client, namespace: str) -> bool:
    return set(contract_attributes()) <= set(await _listed(client, namespace))


async def _until(check, what: str, timeout: float = 30.0):
    """Ask until `check` answers something other than None or False (an empty listing is an answer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if loop.time() > deadline:
            raise SetupFailed(f"gave up after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.5)


async def connect_when_up(wait: float) -> tuple[Client, str]:
    """The worker's connection (TLS, API key), retried for `wait` seconds while the server starts."""
    from environment import SettingsError
    from starter.client import ClientSettings, TemporalUnavailable, connect

    try:
        settings = ClientSettings.from_env()
    except SettingsError as problem:
        raise SetupFailed(str(problem)) from None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            return await connect(settings), settings.namespace
        except TemporalUnavailable as problem:
            if loop.time() > deadline:
                raise SetupFailed(f"{problem.message} (gave up after {wait:.0f}s)") from None
            await asyncio.sleep(1.0)


# --- the command ----------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention",
        default=DEFAULT_RETENTION,
        help=f"how long closed cases stay in history, for a namespace this creates (default {DEFAULT_RETENTION})",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        help=f"seconds to keep trying while the server starts (default {DEFAULT_WAIT:g})",
    )


def run(args: argparse.Namespace) -> int:
    from temporalio.service import RPCError

    try:
        code = asyncio.run(_run(args))
    except SetupFailed as problem:
        print(f"supportflow setup-namespace: {problem}", file=sys.stderr)
        code = 1
    except RPCError as problem:  # e.g. an API key without the rights to create namespaces
        print(f"supportflow setup-namespace: the server refused: {problem.message}", file=sys.stderr)
        code = 1
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """Exit without interpreter teardown, where the SDK's client threads can abort the process (SIGABRT,
    temporalio/sdk-python#300) after the work is done; a setup job's exit code decides whether the stack starts."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _run(args: argparse.Namespace) -> int:
    retention = parse_retention(args.retention)
    client, namespace = await connect_when_up(args.wait)
    done = await setup_namespace(client, namespace, retention)
    print(f"namespace {namespace}: " + ("; ".join(done) if done else "already set up, nothing to do"))
    return 0
