"""`supportflow audit schedule|run`: the fleet audit as a Temporal Schedule.

The schedule `supportflow-fleet-audit` starts a `FleetAudit` workflow every
few minutes on the cases' task queue, so the same workers that run cases run
the audit. `schedule` creates it or brings an existing one to the given
interval (keeping its paused state and notes); `run` triggers it now and
prints what that run found.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from workflows.audit_report import AuditReport

if TYPE_CHECKING:
    from temporalio.client import Client, Schedule

SCHEDULE_ID = "supportflow-fleet-audit"
WORKFLOW_TYPE = "FleetAudit"
DEFAULT_EVERY = "5m"
EVERY = re.compile(r"^([1-9][0-9]*)(s|m|h|d)$")
UNIT = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
# An audit reads visibility once and may alert; it should never take long.
AUDIT_TIMEOUT = timedelta(minutes=30)
RESULT_PATIENCE = 60.0


class AuditCommandFailed(Exception):
    def __init__(self, message: str, exit_code: int = 1):
        self.exit_code = exit_code
        super().__init__(message)


def parse_every(text: str) -> timedelta:
    found = EVERY.match(text.strip())
    if not found:
        raise AuditCommandFailed(f"--every {text!r}: expected an interval like 30s, 5m, 1h or 1d", 2)
    return int(found.group(1)) * UNIT[found.group(2)]


def task_queue() -> str:
    return os.environ.get("SUPPORTFLOW_TASK_QUEUE", "support-cases")


def audit_schedule(every: timedelta, queue: str) -> Schedule:
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW_TYPE,
            id=SCHEDULE_ID,
            task_queue=queue,
            execution_timeout=AUDIT_TIMEOUT,
            static_summary="Fleet audit: open cases past a deadline with no breach recorded",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # One audit at a time; after downtime, one catch-up run is enough, not one per missed interval.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(minutes=1))),
    )


@dataclass(frozen=True)
class Scheduled:
    outcome: str  # created, updated, unchanged
    every: timedelta
    task_queue: str


async def ensure_schedule(client: Client, every: timedelta, queue: str | None = None) -> Scheduled:
    """Create the schedule, or update the existing one to `every` and `queue`; running it twice changes nothing."""
    from temporalio.client import ScheduleAlreadyRunningError, ScheduleUpdate

    queue = queue or task_queue()
    wanted = audit_schedule(every, queue)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
        return Scheduled("created", every, queue)
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(SCHEDULE_ID)
    current = (await handle.describe()).schedule
    if _same(current, wanted):
        return Scheduled("unchanged", every, queue)

    def bring_up_to_date(found) -> ScheduleUpdate:
        # Keep the operator's state (paused, notes); replace what this command owns.
        return ScheduleUpdate(
            schedule=dataclasses.replace(
                found.description.schedule, action=wanted.action, spec=wanted.spec, policy=wanted.policy
            )
        )

    await handle.update(bring_up_to_date)
    return Scheduled("updated", every, queue)


def _same(current: Schedule, wanted: Schedule) -> bool:
    action, intervals = current.action, current.spec.intervals
    return (
        getattr(action, "workflow", None) == WORKFLOW_TYPE
        and getattr(action, "task_queue", None) == wanted.action.task_queue  # type: ignore[attr-defined]
        and [i.every for i in intervals] == [i.every for i in wanted.spec.intervals]
        and current.policy.overlap == wanted.policy.overlap
        and current.policy.catchup_window == wanted.policy.catchup_window
    )


async def run_now(client: Client, queue: str | None = None, patience: float = RESULT_PATIENCE) -> AuditReport:
    """Trigger the schedule (creating it at the default interval if it is missing) and wait for that run's report."""
    from temporalio.client import ScheduleOverlapPolicy
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_schedule_handle(SCHEDULE_ID)
    try:
        before = _started_ids(await handle.describe())
    except RPCError as problem:
        if problem.status != RPCStatusCode.NOT_FOUND:
            raise
        await ensure_schedule(client, parse_every(DEFAULT_EVERY), queue)
        before = set()
    await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        started = _started_ids(await handle.describe()) - before
        if started:
            break
        if loop.time() > deadline:
            raise AuditCommandFailed(f"the schedule {SCHEDULE_ID} did not start an audit within {patience:.0f}s")
        await asyncio.sleep(0.2)
    audit = client.get_workflow_handle(sorted(started)[-1], result_type=AuditReport)
    try:
        return await asyncio.wait_for(audit.result(), max(deadline - loop.time(), 1.0))
    except TimeoutError:
        raise AuditCommandFailed(
            f"the audit {audit.id} did not finish within {patience:.0f}s; is a worker (`supportflow worker`) "
            f"polling task queue {queue or task_queue()!r}?"
        ) from None


def _started_ids(described) -> set[str]:
    running = {action.workflow_id for action in described.info.running_actions}
    recent = {result.action.workflow_id for result in described.info.recent_actions}
    return running | recent


# --- the command ----------------------------------------------------------------


def add_subcommands(audit: argparse.ArgumentParser) -> None:
    commands = audit.add_subparsers(dest="audit_command", required=True)
    schedule = commands.add_parser("schedule", help=f"create or update the schedule {SCHEDULE_ID}")
    schedule.add_argument("--every", default=DEFAULT_EVERY, help=f"how often the audit runs (default {DEFAULT_EVERY})")
    schedule.set_defaults(run=lambda args: _run(_schedule, args))
    run = commands.add_parser(
        "run", help="run the audit now and print what it found (exit 1 when a case missed a deadline)"
    )
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(run=lambda args: _run(_audit_now, args))


def _run(command, args: argparse.Namespace) -> int:
    from temporalio.service import RPCError

    from starter.namespace_setup import exit_now

    try:
        code = asyncio.run(command(args))
    except AuditCommandFailed as failure:
        print(f"supportflow audit: {failure}", file=sys.stderr)
        code = failure.exit_code
    except RPCError as problem:
        print(f"supportflow audit: the server refused: {problem.message}", file=sys.stderr)
        code = 1
    exit_now(code)  # `audit run` in a cron job or CI step: its exit code must be ours, not a teardown abort


async def _schedule(args: argparse.Namespace) -> int:
    every = parse_every(args.every)
    scheduled = await ensure_schedule(await _connect(), every)
    print(
        f"{scheduled.outcome} schedule {SCHEDULE_ID}: FleetAudit every {args.every} on task queue {scheduled.task_queue}"
    )
    return 0


async def _audit_now(args: argparse.Namespace) -> int:
    report = await run_now(await _connect())
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        print(describe_report(report))
    return 1 if report.missed else 0


def describe_report(report: AuditReport) -> str:
    head = f"audit {report.audit_id} as of {report.as_of.isoformat()} (grace {report.grace_seconds:g}s)"
    if not report.missed:
        return f"{head}: no open case missed a deadline"
    lines = [f"{head}: {len(report.missed)} open case(s) past a deadline with no breach recorded"]
    lines += [f"  {m.case_id}  {m.tenant}  {m.target or '?'} due {m.due_at.isoformat()}" for m in report.missed]
    if report.truncated:
        lines.append("  (more matched; see the query in the Temporal UI)")
    if report.alert:
        lines.append(f"alert: {report.alert}")
    return "\n".join(lines)


async def _connect() -> Client:
    from environment import SettingsError
    from starter.client import TemporalUnavailable, connect

    try:
        return await connect()
    except SettingsError as problem:
        raise AuditCommandFailed(str(problem), 2) from None
    except TemporalUnavailable as problem:
        raise AuditCommandFailed(problem.message) from None
