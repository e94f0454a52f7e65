"""Running a command that talks to Temporal: connect once, and turn every failure into one line for the operator.

The client layer (starter/client.py) raises typed errors; here they become
`supportflow <command>: <sentence>` on stderr and an exit code: 2 for a
value the operator must fix, 1 for everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable

from temporalio.client import Client

from environment import SettingsError
from starter import client as cases
from starter.admission import Refused
from tenant_policies import PolicyError, UnknownTenant


class CommandFailed(Exception):
    """What the operator sees instead of a traceback, and the exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        self.exit_code = exit_code
        super().__init__(message)


def run(name: str, command: Callable[[argparse.Namespace], Awaitable[int | None]], args: argparse.Namespace) -> int:
    """Run an async command; a failure becomes `supportflow <name>: <message>` on stderr."""
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
    except Exception as failure:
        outcome = as_command_failure(failure)
    gc.collect()
    return outcome


def as_command_failure(failure: Exception) -> CommandFailed:
    if isinstance(failure, CommandFailed):
        return CommandFailed(str(failure), failure.exit_code)
    if isinstance(failure, cases.UpdateRejected):
        return CommandFailed(f"rejected: {failure.message}")
    if isinstance(failure, cases.CaseClosed):
        return CommandFailed(f"rejected: {failure.message}")
    if isinstance(failure, cases.CaseError):
        return CommandFailed(failure.message)
    if isinstance(failure, Refused):
        return CommandFailed(
            "; ".join(f"--{field.replace('_', '-')}: {problem}" for field, problem in failure.problems), 2
        )
    if isinstance(failure, UnknownTenant):
        return CommandFailed(f"--tenant: {failure}", 2)
    if isinstance(failure, (SettingsError, PolicyError)):
        return CommandFailed(str(failure), 2)
    raise failure


async def connect_client() -> Client:
    return await cases.connect()
