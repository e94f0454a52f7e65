"""supportflow with tens of thousands of open cases, beside the bare-Temporal floor grown the same way.

    .venv/bin/python -m bench.scale                              # levels 10,000 and 50,000 (about an hour)
    .venv/bin/python -m bench.scale --levels 10000,50000,100000  # and 100,000 (about three hours)
    .venv/bin/python -m bench.scale --levels 100000               # 100,000 alone (about two hours)
    .venv/bin/python -m bench.scale --quick                      # a smoke run: 100 and 200, short windows

Two embedded dev servers (SQLite, WAL, as `supportflow up` starts one):
one grows bare workflows (bench/floor.py), the other supportflow cases,
each with its own worker (the production worker and its settings, the same
fixed cache on both) and, for the cases, the gateway. At each level each
side opens its new items at a rate its worker keeps up with, keeps them
open with deadlines days ahead, times its intake, then breaches 1,000
items chosen at random among them (evicted from the cache) and a batch
opened last (cached). Method: docs/benchmarks.md, "Scale".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from bench.scale.level import grow, until_quiet
from bench.scale.plan import QUICK, ScalePlan
from bench.scale.policy import write_scale_policy
from bench.scale.reads import case_reads, floor_reads
from bench.scale.report import Level, growth_table, level_table
from bench.scale.sides import CaseSide, FloorSide
from bench.scale.sinks import CountingSmtp
from bench.stack import Stack
from starter.devserver import HOST, free_port


def log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--levels", help="open items per side at each level, ascending (default 10000,50000)")
    parser.add_argument("--cache", type=int, help="max_cached_workflows of both workers (default 2000)")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for both workers (e.g. SUPPORTFLOW_MAX_CONCURRENT_WORKFLOW_TASKS=10)",
    )
    parser.add_argument("--quick", action="store_true", help="levels 100 and 200, short windows: a smoke run")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (servers, logs)")
    args = parser.parse_args(argv)
    plan = replace(ScalePlan(), **QUICK) if args.quick else ScalePlan()
    if args.levels:
        try:
            levels = tuple(int(level.replace("_", "")) for level in args.levels.split(","))
        except ValueError:
            parser.error(f"--levels {args.levels!r}: expected numbers separated by commas, e.g. 10000,50000")
        if list(levels) != sorted(set(levels)):
            parser.error("--levels must rise")
        plan = replace(plan, levels=levels)
    if args.cache is not None:
        if args.cache < 1:
            parser.error("--cache must be at least 1")
        plan = replace(plan, cache=args.cache)
    previous = 0
    for level in plan.levels:
        if plan.fill(level, previous, 2) < 0:
            parser.error(f"level {level}: too few new cases for the timed, cached and burst ones ({level - previous})")
        previous = level
    for item in args.worker_env:
        if "=" not in item:
            parser.error(f"--worker-env {item!r}: expected NAME=VALUE")
    args.plan = plan
    return args


def worker_env(plan: ScalePlan, metrics_port: int, extra: dict[str, str]) -> dict[str, str]:
    return {
        "SUPPORTFLOW_MAX_CACHED_WORKFLOWS": str(plan.cache),
        "SUPPORTFLOW_METRICS_PORT": str(metrics_port),
        **extra,
    }


async def measure(root: Path, plan: ScalePlan, extra: dict[str, str]) -> list[Level]:
    floor_metrics, case_metrics = free_port(), free_port()
    floor_stack = Stack(
        root / "floor", worker_env=worker_env(plan, floor_metrics, extra), warn_at=0.75, first_breach_wait="1d"
    )
    case_stack = Stack(
        root / "cases",
        worker_env=worker_env(plan, case_metrics, extra),
        warn_at=0.75,
        first_breach_wait="1d",
        smtp=CountingSmtp(),
        policy=write_scale_policy,
    )
    levels: list[Level] = []
    floor = cases = None
    try:
        for stack in (floor_stack, case_stack):
            stack.root.mkdir(parents=True)
            await stack.start()
        floor = FloorSide(floor_stack, plan.seed)
        cases = CaseSide(case_stack, plan.seed, plan.concurrency)
        await floor.start()
        await cases.start()
        previous = 0
        for level in plan.levels:
            floor_result = await grow(floor, plan, level, previous, f"http://{HOST}:{floor_metrics}/metrics", log)
            floor_read = await floor_reads(floor_stack, plan.reads, plan.cli_reads)
            await until_quiet(floor_stack, plan.drain)  # the floor's work done before supportflow's is timed
            case_result = await grow(cases, plan, level, previous, f"http://{HOST}:{case_metrics}/metrics", log)
            log(f"supportflow {level:,}: lists, the audit, sizes")
            case_read = await case_reads(case_stack, cases, plan.reads, plan.cli_reads)
            await until_quiet(case_stack, plan.drain)
            levels.append(Level(level, case_result, floor_result, case_read, floor_read))
            print(level_table(levels[-1]) + "\n", flush=True)
            previous = level
        return levels
    finally:
        for side in (cases, floor):
            if side is not None:
                await side.stop()
        for stack in (case_stack, floor_stack):
            await stack.stop()


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import stop_cleanly_on_sigterm

    args = parse(argv)
    stop_cleanly_on_sigterm()
    plan: ScalePlan = args.plan
    root = Path(tempfile.mkdtemp(prefix="supportflow-scale-"))
    load_before = os.getloadavg()
    log(f"levels {', '.join(f'{level:,}' for level in plan.levels)}; cache {plan.cache:,}; under {root}")
    try:
        levels = asyncio.run(measure(root, plan, dict(item.split("=", 1) for item in args.worker_env)))
    except Exception as problem:  # a failed run keeps everything it wrote, for the post-mortem
        print(f"python -m bench.scale: {type(problem).__name__}: {problem}\nkept {root}", file=sys.stderr)
        return 1
    load_after = os.getloadavg()
    if len(levels) > 1:
        print(growth_table(levels) + "\n")
    notes = [
        f"cache {plan.cache:,} on both workers; {plan.timed:,} evicted and {plan.cached:,} cached deadlines per level "
        f"over {plan.spread:g} s; bursts of {plan.burst:,} per intake path at {plan.concurrency} in flight",
        f"worker settings: {' '.join(args.worker_env) or 'the defaults (worker.py)'} besides the cache",
        f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        "(other work on the machine shares the cores)",
    ]
    for at in levels:
        acted = [
            f"{side} {name} {window.lateness.measured}/{window.lateness.measured + window.lateness.missing}"
            for side, result in (("supportflow", at.cases), ("floor", at.floor))
            for name, window in (("evicted", result.evicted), ("cached", result.cached))
        ]
        notes.append(f"{at.level:,}: deadlines acted on within the drain: {', '.join(acted)}")
    notes += [note for at in levels for note in at.floor.notes + at.cases.notes]
    for note in notes:
        print(f"- {note}")
    if args.json:
        args.json.write_text(
            json.dumps({"plan": asdict(plan), "levels": [asdict(at) for at in levels]}, indent=2, default=str)
        )
    if args.keep:
        print(f"- kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
