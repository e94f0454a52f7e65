"""`python -m bench.sdk_memory`: what the SDK keeps per cached workflow, by what the workflow did.

A case's worker RSS per open case is about twice the floor's, and most of
the gap is native memory (malloc'd outside the Python heap), not Python
objects. This probe shows where it comes from: N workflows per variant, each
variant a bare workflow (the floor: one timer) plus one thing a case does,
in a worker without the sandbox (so only the SDK's own per-workflow state
differs), each variant in a fresh process on its own task queue of one dev
server (the worker's memory is measured, not the server's). It prints
glibc's in-use malloc bytes (`mallinfo2`) and RSS per workflow, and each
variant's excess over the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.procstat import rss_bytes
from starter.devserver import DevServer
from workflows import search_attributes as sa

KB = 1024

# variant name → (what the workflow does, what it starts with)
VARIANTS: dict[str, tuple[dict, dict]] = {
    "floor: one timer": ({}, {}),
    "+ 4 more workflow tasks (4 short timers)": ({"timers": 4}, {}),
    "+ 4 search-attribute upserts in one task": ({"upserts": 4}, {}),
    "+ a patch marker (and its TemporalChangeVersion upsert)": ({"patch": True}, {}),
    "+ a local activity returning 4 KB": ({"local_activity_bytes": 4000}, {}),
    "+ an activity with a 1.5 KB input, completed (one more workflow task)": ({"activity_input_bytes": 1500}, {}),
    "+ a 4 KB workflow input": ({"input_bytes": 4000}, {}),
    "+ 7 search attributes and a static summary at start": ({}, {"attributes": True}),
}


@activity.defn(name="sdk_memory_blob")
async def blob(size: int) -> str:
    """A result of `size` bytes, as `load_policy` returns a policy."""
    return "x" * size


@activity.defn(name="sdk_memory_deliver")
async def deliver(message: str) -> None:
    """Takes a message, as a delivery does, and does nothing with it."""


@workflow.defn(name="SdkMemory")
class SdkMemory:
    @workflow.run
    async def run(self, does: dict) -> None:
        if does.get("patch"):
            workflow.patched("sdk-memory-probe")
        if does.get("local_activity_bytes"):
            await workflow.execute_local_activity(
                blob, does["local_activity_bytes"], start_to_close_timeout=timedelta(seconds=10)
            )
        if does.get("activity_input_bytes"):
            await workflow.execute_activity(
                deliver, "z" * does["activity_input_bytes"], start_to_close_timeout=timedelta(seconds=10)
            )
        for step in range(does.get("upserts", 0)):
            workflow.upsert_search_attributes([sa.ESCALATION_STEP.value_set(step)])
        for _ in range(does.get("timers", 0)):
            await workflow.sleep(timedelta(milliseconds=1))
        await workflow.sleep(timedelta(hours=1))


def malloc_in_use() -> int | None:
    """glibc's bytes in use (arena + mmapped), after returning free memory to the system; None elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        fields = (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in fields]

        libc.mallinfo2.restype = MallInfo2
        libc.malloc_trim(0)
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return None
    return info.uordblks + info.hblkhd


async def measure(
    address: str, queue: str, count: int, does: dict, starts_with: dict, settle: float
) -> tuple[float | None, float]:
    """(malloc KB, RSS KB) per workflow for `count` cached workflows of one variant."""
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[SdkMemory],
        activities=[blob, deliver],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_cached_workflows=count + 100,
    )
    options: dict = {}
    if starts_with.get("attributes"):
        options["search_attributes"] = TypedSearchAttributes(
            [
                SearchAttributePair(sa.CASE_TENANT, "blockit"),
                SearchAttributePair(sa.CASE_STATE, "open"),
                SearchAttributePair(sa.CASE_CHANNEL, "email"),
                SearchAttributePair(sa.REQUESTER_EMAIL, "ana@clinic.example"),
                SearchAttributePair(sa.CASE_SEVERITY, 2),
                SearchAttributePair(sa.ESCALATION_STEP, 0),
                SearchAttributePair(sa.SLA_BREACHED, False),
            ]
        )
        options["static_summary"] = "Sev2 · blockit · Scheduling page down"
    argument = does | {"padding": "y" * does.get("input_bytes", 0)}
    async with worker:

        async def start(name: str) -> None:
            await client.start_workflow("SdkMemory", argument, id=f"{queue}-{name}", task_queue=queue, **options)

        for i in range(5):  # warm-up: the first workflows build what every later one reuses
            await start(f"warm-{i}")
        await asyncio.sleep(settle)
        gc.collect()
        malloc_before, rss_before = malloc_in_use(), rss_bytes(os.getpid())
        for i in range(count):
            await start(f"probe-{i}")
        await asyncio.sleep(settle + does.get("timers", 0))
        gc.collect()
        malloc_after, rss_after = malloc_in_use(), rss_bytes(os.getpid())
    malloc = None if malloc_before is None else (malloc_after - malloc_before) / count / KB
    return malloc, (rss_after - rss_before) / count / KB


def measured_alone(address: str, index: int, count: int, settle: float) -> tuple[float | None, float]:
    """One variant in a fresh process: memory freed by an earlier variant would hide a later one's growth."""
    command = [sys.executable, "-m", "bench.sdk_memory", "--address", address, "--variant", str(index)]
    command += ["--workflows", str(count), "--settle", str(settle)]
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise SystemExit(f"variant {index} failed:\n{child.stderr[-6000:]}")
    figures = json.loads(child.stdout.splitlines()[-1])
    return figures["malloc_kb"], figures["rss_kb"]


async def measure_every_variant(count: int, settle: float) -> None:
    print(
        f"| variant ({count} workflows each, each in a fresh process) | malloc KB/workflow | over the floor | RSS KB/workflow |"
    )
    print("|---|---:|---:|---:|")
    floor: float | None = None
    with tempfile.TemporaryDirectory() as root:
        async with DevServer(root, ui=False) as server:
            for index, name in enumerate(VARIANTS):
                malloc, rss = await asyncio.to_thread(measured_alone, server.address, index, count, settle)
                if malloc is None:
                    print(f"| {name} | n/a | n/a | {rss:.1f} |", flush=True)
                    continue
                excess = "—" if floor is None else f"{malloc - floor:+.1f}"
                floor = malloc if floor is None else floor
                print(f"| {name} | {malloc:.1f} | {excess} | {rss:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000, help="cached workflows per variant (default 1000)")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds for the workflows' tasks to finish (default 5)"
    )
    # Internal: one variant, measured in this process against the parent's dev server, printed as JSON.
    parser.add_argument("--variant", type=int, choices=range(len(VARIANTS)), help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant is not None:
        does, starts_with = list(VARIANTS.values())[args.variant]
        queue = f"sdk-memory-{args.variant}"
        malloc, rss = asyncio.run(measure(args.address, queue, args.workflows, does, starts_with, args.settle))
        print(json.dumps({"malloc_kb": malloc, "rss_kb": rss}), flush=True)
        # The SDK's native threads still hold the connection to the live server, and interpreter shutdown can
        # race them (a fatal PyGILState_Release); the figures are out, so the child ends without one.
        os._exit(0)
    asyncio.run(measure_every_variant(args.workflows, args.settle))


if __name__ == "__main__":
    main()
