"""The gateway's one Temporal client, and reading and acting on a case with errors callers understand.

The client connects on first use, so the gateway starts (and `/healthz`
says what is wrong) even while Temporal is still coming up.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from starter.gateway.errors import Conflict, NotFound, TooSlow, Unavailable
from workflows.contracts import CaseStatus, Comment

ClientFactory = Callable[[], Awaitable[Client]]
# A case answers its status query a moment after start, once its policy is loaded.
OPENING_PATIENCE = 5.0
# How long an update may take before we suspect no worker is polling.
ANSWER_TIMEOUT = 30.0


async def client_from_environment() -> Client:
    from worker import WorkerSettings, connect

    return await connect(WorkerSettings.from_env(os.environ))


class Temporal:
    def __init__(self, factory: ClientFactory = client_from_environment):
        self._factory = factory
        self._client: Client | None = None
        self._connecting = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._connecting:
                if self._client is None:
                    try:
                        self._client = await self._factory()
                    except RuntimeError as problem:  # the SDK reports an unreachable server as a RuntimeError
                        raise Unavailable(f"cannot reach Temporal: {_first_line(problem)}") from None
        return self._client

    async def reachable(self) -> str | None:
        """None when Temporal answers a health check, else why not."""
        try:
            client = await self.client()
            if await client.service_client.check_health():
                return None
            return "Temporal reports it is not serving"
        except Unavailable as problem:
            return problem.message
        except RPCError as problem:
            return f"Temporal health check failed: {problem.message}"


def tenant_of(case_id: str) -> str | None:
    """`case-<tenant>-<key>` → tenant (a tenant may itself contain '-')."""
    if not case_id.startswith("case-") or case_id.count("-") < 2:
        return None
    return case_id.removeprefix("case-").rsplit("-", 1)[0] or None


async def describe(client: Client, case_id: str) -> WorkflowExecutionDescription:
    try:
        return await case_handle(client, case_id).describe()
    except RPCError as problem:
        if problem.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise NotFound(f"no case {case_id}") from None
        raise Unavailable(f"Temporal could not describe {case_id}: {problem.message}") from None


async def exists(client: Client, case_id: str) -> bool:
    try:
        await describe(client, case_id)
        return True
    except NotFound:
        return False


async def is_running(client: Client, case_id: str) -> bool:
    return (await describe(client, case_id)).status == WorkflowExecutionStatus.RUNNING


def case_handle(client: Client, case_id: str) -> WorkflowHandle:
    """Only `case-<tenant>-<key>` ids name cases; anything else (another workflow type, a typo) is no case."""
    if tenant_of(case_id) is None:
        raise NotFound(f"no case {case_id}")
    return client.get_workflow_handle(case_id)


async def status(client: Client, case_id: str) -> CaseStatus:
    """The case's status query; a case still opening is asked again for a few seconds."""
    handle = case_handle(client, case_id)
    deadline = asyncio.get_running_loop().time() + OPENING_PATIENCE
    while True:
        try:
            return await asyncio.wait_for(handle.query("status", result_type=CaseStatus), ANSWER_TIMEOUT)
        except WorkflowQueryFailedError as failed:
            if "still opening" not in str(failed) or asyncio.get_running_loop().time() > deadline:
                raise Unavailable(f"{case_id} cannot answer its status: {failed}") from None
            await asyncio.sleep(0.1)
        except RPCError as problem:
            if problem.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise NotFound(f"no case {case_id}") from None
            raise Unavailable(f"{case_id} cannot answer its status: {problem.message}") from None
        except TimeoutError:
            raise TooSlow(f"{case_id} did not answer within {ANSWER_TIMEOUT:.0f}s; is a worker polling?") from None


async def run_update(client: Client, case_id: str, name: str, args: BaseModel | dict[str, Any]) -> CaseStatus:
    """Run one contract update; a rejection is a 409 with the workflow's own sentence."""
    handle = case_handle(client, case_id)
    try:
        return await asyncio.wait_for(handle.execute_update(name, args, result_type=CaseStatus), ANSWER_TIMEOUT)
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        raise Conflict(getattr(cause, "message", None) or str(cause or failed)) from None
    except RPCError as problem:
        await _explain_missing(client, case_id, problem)
    except TimeoutError:
        raise TooSlow(f"{case_id} did not answer {name} within {ANSWER_TIMEOUT:.0f}s; is a worker polling?") from None


async def send_comment(client: Client, case_id: str, comment: Comment) -> None:
    if not await is_running(client, case_id):
        raise Conflict(f"{case_id} is closed; it takes no more comments")
    try:
        await case_handle(client, case_id).signal("comment", comment)
    except RPCError as problem:
        await _explain_missing(client, case_id, problem)


async def _explain_missing(client: Client, case_id: str, problem: RPCError) -> None:
    """An RPC failure on a case: unknown (404), finished (409), or Temporal trouble (503). Always raises."""
    missing = (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.FAILED_PRECONDITION)
    if problem.status in missing and not await is_running(client, case_id):
        raise Conflict(f"{case_id} is closed; nothing more can change") from None
    raise Unavailable(f"Temporal refused the call on {case_id}: {problem.message}") from None


def _first_line(problem: BaseException) -> str:
    text = str(problem)
    return text.splitlines()[0] if text else type(problem).__name__
