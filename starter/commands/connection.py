"""Talking to Temporal from a command: connect once, and turn every failure into one line for the operator.

The connection itself is `worker.connect`, so TLS, API keys and the
pydantic data converter are configured in one place for worker and CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from workflows.contracts import CaseStatus

if TYPE_CHECKING:
    from temporalio.client import Client

# A case answers a moment after start, once its policy is loaded.
OPENING_PATIENCE = 3.0
# How long a query or update may take before we suspect no worker is polling.
ANSWER_TIMEOUT = 30.0


class CommandFailed(Exception):
    """What the operator sees instead of a traceback, and the exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        self.exit_code = exit_code
        super().__init__(message)


def run(name: str, command: Callable[[argparse.Namespace], Awaitable[int | None]], args: argparse.Namespace) -> int:
    """Run an async command; a `CommandFailed` becomes `supportflow <name>: <message>` on stderr."""
    outcome = asyncio.run(_settled(command(args)))
    if isinstance(outcome, CommandFailed):
        print(f"supportflow {name}: {outcome}", file=sys.stderr)
        return outcome.exit_code
    return int(outcome or 0)


async def _settled(running: Awaitable[int | None]) -> int | CommandFailed | None:
    """Drop the Temporal client while the loop still runs: a short-lived process that leaves it to interpreter
    shutdown can abort with "PyGILState_Release" (temporalio/sdk-python#300; seen here on 4 starts in 10).
    A failure is copied without its traceback, whose frames would keep the client alive."""
    try:
        outcome: int | CommandFailed | None = await running
    except CommandFailed as failure:
        outcome = CommandFailed(str(failure), failure.exit_code)
    gc.collect()
    return outcome


async def connect_client() -> Client:
    from worker import SettingsError, WorkerSettings, connect

    try:
        settings = WorkerSettings.from_env(os.environ)
        return await connect(settings)
    except SettingsError as problem:
        raise CommandFailed(str(problem), 2) from None
    except RuntimeError as problem:  # the SDK reports an unreachable server as a RuntimeError
        detail = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        raise CommandFailed(
            f"cannot reach Temporal at {settings.address} (set TEMPORAL_ADDRESS; namespace "
            f"{settings.namespace}): {detail}"
        ) from None


def task_queue_hint() -> str:
    queue = os.environ.get("SUPPORTFLOW_TASK_QUEUE", "support-cases")
    return f"is a worker (`supportflow worker`) polling task queue {queue!r}?"


async def case_status(client: Client, case_id: str) -> CaseStatus:
    """The case's status; a case still opening is asked again for a few seconds."""
    from temporalio.client import WorkflowQueryFailedError

    handle = client.get_workflow_handle(case_id)
    deadline = asyncio.get_running_loop().time() + OPENING_PATIENCE
    while True:
        try:
            return await _answer(case_id, handle.query("status", result_type=CaseStatus))
        except WorkflowQueryFailedError as failed:
            if "still opening" not in str(failed):
                raise CommandFailed(f"{case_id}: the status query failed: {failed}") from None
            if asyncio.get_running_loop().time() > deadline:
                raise CommandFailed(
                    f"{case_id} is still opening after {OPENING_PATIENCE:.0f}s; {task_queue_hint()}"
                ) from None
            await asyncio.sleep(0.1)
        except Exception as problem:
            raise await _explained(client, case_id, problem) from None


async def update_case(client: Client, case_id: str, update: str, args: Any, command: str) -> CaseStatus:
    """Run one update; a rejection becomes `<command>: rejected: <reason>`."""
    from temporalio.client import WorkflowUpdateFailedError

    handle = client.get_workflow_handle(case_id)
    try:
        return await _answer(case_id, handle.execute_update(update, args, result_type=CaseStatus))
    except WorkflowUpdateFailedError as failed:
        raise CommandFailed(f"rejected: {_reason(failed)}") from None
    except Exception as problem:
        raise await _explained(client, case_id, problem, doing=command) from None


async def signal_case(client: Client, case_id: str, signal: str, args: Any) -> None:
    handle = client.get_workflow_handle(case_id)
    try:
        await handle.signal(signal, args)
    except Exception as problem:
        raise await _explained(client, case_id, problem, doing=signal) from None


async def _answer(case_id: str, asking: Awaitable[CaseStatus]) -> CaseStatus:
    try:
        return await asyncio.wait_for(asking, ANSWER_TIMEOUT)
    except TimeoutError:
        raise CommandFailed(f"{case_id} did not answer within {ANSWER_TIMEOUT:.0f}s; {task_queue_hint()}") from None


def _reason(failed: Exception) -> str:
    cause = failed.__cause__ or getattr(failed, "cause", None)
    message = getattr(cause, "message", None) or str(cause or failed)
    return message


async def _explained(client: Client, case_id: str, problem: Exception, doing: str | None = None) -> CommandFailed:
    """An RPC failure as the operator would say it: no such case, a closed case, or the server's own words."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(problem, CommandFailed):
        return problem
    if not isinstance(problem, RPCError):
        return CommandFailed(f"{case_id}: {type(problem).__name__}: {problem}")
    if problem.status == RPCStatusCode.NOT_FOUND:
        try:
            described = await client.get_workflow_handle(case_id).describe()
        except RPCError:
            return CommandFailed(f"no case {case_id}")
        if described.status != WorkflowExecutionStatus.RUNNING:
            state = described.status.name.lower() if described.status else "finished"
            return CommandFailed(
                f"rejected: the case is closed (its workflow is {state}); it cannot {doing or 'change'}"
            )
    return CommandFailed(f"{case_id}: {problem.message}")
