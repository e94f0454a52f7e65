"""Real Temporal servers for the tests: the time-skipping test server for timer
logic, with the contract's search attributes registered, and a worker that
runs the production workflow and activities against it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows import search_attributes
from workflows.contracts import CaseRequest
from workflows.messages import summary_line  # noqa: F401  (kept importable for tests naming cases)

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in search_attributes.ALL
            },
        )
    )


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    async with env:
        yield env


@asynccontextmanager
async def case_worker(client: Client, task_queue: str | None = None) -> AsyncIterator[str]:
    """The production worker (workflows + activities) on a fresh task queue, in the `strict` sandbox:
    every workflow test also checks that the workflow code itself reads no clock or random source."""
    from worker import WorkerSettings, build_worker

    queue = task_queue or f"cases-{uuid.uuid4().hex[:8]}"
    settings = replace(WorkerSettings.from_env(), workflow_sandbox="strict")
    worker: Worker = build_worker(client, task_queue=queue, settings=settings)
    async with worker:
        yield queue


async def open_case(client: Client, queue: str, request: CaseRequest, case_id: str | None = None) -> WorkflowHandle:
    return await client.start_workflow(
        "SupportCase",
        request,
        id=case_id or f"case-{request.tenant}-{uuid.uuid4().hex[:24]}",
        task_queue=queue,
    )
