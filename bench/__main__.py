"""supportflow against the bare-Temporal floor, measured the same way in the same run.

    .venv/bin/python -m bench                     # N = 1,000 cases (about 12 minutes on 2 cores)
    .venv/bin/python -m bench --cases 5000
    .venv/bin/python -m bench --cases 20 --quick  # a smoke run: short windows, about a minute
    .venv/bin/python -m bench --rounds 3          # floor and cases three times over, medians (a noisy machine)
    .venv/bin/python -m bench --suite             # also time the test suite (python -m pytest -q -x)
    .venv/bin/python -m bench --worker-env SUPPORTFLOW_WORKFLOW_POLLERS=8   # try a tuning, for both workers

It starts its own embedded dev server (a SQLite file in a temporary
directory, WAL pragmas, as `supportflow up` does), a local webhook and SMTP
receiver, then runs the floor (bench/floor.py) and the cases, each with its
own worker process, and prints one table. Method: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from bench import sla_clock
from bench.case_run import run_cases
from bench.floor_run import run_floor
from bench.phase import Plan, Result, median_of
from bench.policy import REPO
from bench.stack import Stack
from bench.table import Row, render

# Smoke-run timings: the warning 9 s before the deadline, step 2 right after step 1. Figures are not comparable.
QUICK = dict(
    lead=5.0,
    floor_lead=5.0,
    spread=5.0,
    warmup=2,
    idle_seconds=2.0,
    drain=60.0,
    first_breach_wait="0m",
    warn_at=0.995,
)
MIB = 1024 * 1024


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--cases", type=int, default=1000, help="N: cases, and floor workflows (default 1000)")
    parser.add_argument(
        "--concurrency", type=int, default=48, help="requests in flight during intake and updates (default 48)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short windows and waits, for a smoke run; figures are not comparable"
    )
    parser.add_argument(
        "--spread", type=float, help="seconds over which the N deadlines fall (default 60: the same minute)"
    )
    parser.add_argument(
        "--lead",
        type=float,
        help="seconds from the end of intake to the first deadline (default 200; the warnings fire 180 s before)",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for both workers (e.g. SUPPORTFLOW_MAX_CONCURRENT_WORKFLOW_TASKS=50)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate floor and cases this many times and print the medians (default 1)",
    )
    parser.add_argument("--sla-samples", type=int, help="start instants per SLA target (default 3000, --quick 300)")
    parser.add_argument("--suite", action="store_true", help="also run `python -m pytest -q -x` and time it")
    parser.add_argument("--json", type=Path, help="also write every figure, gross and net, to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the workers and the gateway with py-spy (on PATH or beside python) into DIR/<process>.txt, collapsed stacks",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server, logs, policy)")
    args = parser.parse_args(argv)
    if args.cases < 2:
        parser.error("--cases must be at least 2")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    for item in args.worker_env:
        if "=" not in item:
            parser.error(f"--worker-env {item!r}: expected NAME=VALUE")
    return args


def plan_from(args: argparse.Namespace) -> Plan:
    plan = replace(Plan(), **QUICK) if args.quick else Plan()
    plan = replace(plan, cases=args.cases, concurrency=args.concurrency)
    if args.spread is not None:
        plan = replace(plan, spread=args.spread)
    if args.lead is not None:
        plan = replace(plan, lead=args.lead, floor_lead=min(plan.floor_lead, args.lead))
    return plan


def sla_figures(samples: int) -> dict[str, tuple[float, float, float]]:
    """bench/sla_clock's medians: target label -> (cold µs, warm µs, bare-floor µs)."""
    holidays = sla_clock.us_holidays()
    starts = sla_clock.random_starts(samples, 20270108)
    for _, kind, span in sla_clock.TARGETS:  # warm the interpreter paths once, untimed, as sla_clock does
        sla_clock.measure(kind, span, starts[:200], holidays)
    return {label: sla_clock.measure(kind, span, starts, holidays) for label, kind, span in sla_clock.TARGETS}


def run_suite(log_file: Path) -> tuple[float, int]:
    started = time.monotonic()
    with log_file.open("w") as output:
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-x"], cwd=REPO, stdout=output, stderr=subprocess.STDOUT
        )
    return time.monotonic() - started, code


async def measure(
    root: Path, plan: Plan, worker_env: dict[str, str], profile: Path | None, rounds: int
) -> tuple[list[Result], list[Result]]:
    """Floor then cases, `rounds` times over on one server, so background load hits both alike."""
    stack = Stack(
        root, worker_env=worker_env, warn_at=plan.warn_at, first_breach_wait=plan.first_breach_wait, profile=profile
    )
    await stack.start()
    floors: list[Result] = []
    cases: list[Result] = []
    try:
        for number in range(1, rounds + 1):
            this = replace(plan, seed=plan.seed + number)
            log(f"round {number}/{rounds}, floor: {plan.cases} bare workflows, deadlines over {plan.spread:g} s")
            floors.append(await run_floor(stack, this))
            log(f"floor done in {floors[-1].wall:.0f} s; cases: {plan.cases}, half through the gateway")
            cases.append(await run_cases(stack, this, floors[-1].rates["direct"]))
            log(f"cases done in {cases[-1].wall:.0f} s")
        return floors, cases
    finally:
        await stack.stop()


def lateness_rows(floor: Result, cases: Result, count: int) -> list[Row]:
    ours, base = cases.lateness, floor.lateness
    p99_target = "≤ 1.25× floor" + ("; ≤ 1 s" if count <= 1000 else "")
    return [
        Row("breach lateness p50, s", ours.p50, base.p50, 3),
        Row(
            "breach lateness p99, s",
            ours.p99,
            base.p99,
            3,
            p99_target,
            lambda value, ratio: ratio is not None and ratio <= 1.25 and (count > 1000 or value <= 1.0),
        ),
        Row("breach lateness max, s", ours.max, base.max, 3),
    ]


def rows(floor: Result, cases: Result, sla: dict, suite: tuple[float, int] | None, count: int) -> list[Row]:
    floor_rate = floor.rates["direct"]
    table = [
        Row(
            "intake via gateway, cases/s",
            cases.rates["gateway"],
            floor_rate,
            1,
            "≥ 0.8× floor",
            lambda v, r: r is not None and r >= 0.8,
        ),
        Row("intake via start_case, cases/s", cases.rates["direct"], floor_rate, 1),
        *lateness_rows(floor, cases, count),
        Row(
            "server CPU per lifecycle, ms",
            cases.cpu["server"] * 1000,
            floor.cpu["server"] * 1000,
            2,
            "≤ 3× floor",
            lambda v, r: r is not None and r <= 3.0,
        ),
        Row("worker CPU per lifecycle, ms", cases.cpu["worker"] * 1000, floor.cpu["worker"] * 1000, 2),
        Row(
            "worker RSS per 1,000 open, MiB",
            cases.rss_per_1000 / MIB,
            floor.rss_per_1000 / MIB,
            1,
            "≤ 1.5× floor",
            lambda v, r: r is not None and r <= 1.5,
        ),
        Row(
            "history events per lifecycle",
            cases.history_events,
            floor.history_events,
            0,
            "≤ 120",
            lambda v, r: v <= 120,
        ),
    ]
    (a_label, a), (b_label, b), (c_label, c) = sla.items()
    table += [
        Row(f"SLA math {a_label}, cold, µs", a[0], a[2], 2),
        Row(f"SLA math {a_label}, warm, µs", a[1], a[2], 2),
        Row(f"SLA math {b_label}, cold, µs", b[0], b[2], 2),
        Row(f"SLA math {c_label}, cold, µs", c[0], c[2], 2),
    ]
    if suite is None:
        table.append(Row("test suite wall time, s", None, text="not run (--suite)"))
    else:
        seconds, code = suite
        table.append(Row("test suite wall time, s", seconds, None, 0, "passes", lambda v, r: code == 0))
    return table


def notes(
    plan: Plan, floor: Result, cases: Result, worker_env: dict[str, str], load: tuple[float, float], rounds: int
) -> list[str]:
    from worker import WorkerSettings

    settings = WorkerSettings.from_env({**os.environ, **worker_env})
    lines = [
        f"N = {plan.cases}{f', median of {rounds} rounds' if rounds > 1 else ''}; deadlines over {plan.spread:g} s, {plan.lead:g} s after intake ({plan.floor_lead:g} s for the floor); "
        f"concurrency {plan.concurrency}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} before and {load[1]:.2f} after (other work on the machine adds noise)",
        f"worker settings (both workers): cache {settings.max_cached_workflows}, workflow tasks {settings.max_concurrent_workflow_tasks}, "
        f"activities {settings.max_concurrent_activities}, pollers {settings.workflow_pollers}+{settings.activity_pollers}"
        + (f"; --worker-env {' '.join(f'{k}={v}' for k, v in worker_env.items())}" if worker_env else ""),
        f"lateness: cases = first breach webhook at the receiver − deadline ({cases.lateness.measured} measured, "
        f"{cases.lateness.missing} missing); floor = no-op activity start − deadline ({floor.lateness.measured}, {floor.lateness.missing} missing)",
        "CPU: utime+stime from /proc per process, net of its idle rate over the same wall time; "
        f"gross server {cases.gross_cpu['server'] * 1000:.2f} ms vs floor {floor.gross_cpu['server'] * 1000:.2f} ms; "
        f"idle server {cases.idle['server'] * 100:.1f}% / {floor.idle['server'] * 100:.1f}% of a core",
        f"gateway CPU per case opened through it: {cases.cpu.get('gateway', float('nan')) * 1000 * 2:.2f} ms "
        "(its process, net of idle, over the gateway half); this process (load, receivers, SMTP) "
        f"{cases.cpu['bench'] * 1000:.2f} ms per case vs {floor.cpu['bench'] * 1000:.2f} ms per floor workflow",
    ]
    return lines + [f"floor: {note}" for note in floor.notes] + [f"cases: {note}" for note in cases.notes]


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM (a timeout, a CI runner) unwinds like Ctrl-C, so the dev server and workers are stopped, not orphaned."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_cleanly_on_sigterm()
    plan = plan_from(args)
    worker_env = dict(item.split("=", 1) for item in args.worker_env)
    root = Path(tempfile.mkdtemp(prefix="supportflow-bench-"))
    load_before = os.getloadavg()[0]
    try:
        samples = args.sla_samples or (300 if args.quick else 3000)
        log(f"SLA math ({samples} samples per target)")
        sla = sla_figures(samples)
        log(f"dev server, receivers and processes under {root}")
        floors, rounds_of_cases = asyncio.run(measure(root, plan, worker_env, args.profile, args.rounds))
        floor, cases = median_of(floors), median_of(rounds_of_cases)
        load_after = os.getloadavg()[0]
        suite = None
        if args.suite:
            log(f"test suite: python -m pytest -q -x (output in {root / 'suite.log'})")
            suite = run_suite(root / "suite.log")
            if suite[1] != 0:
                args.keep = True
    except Exception as problem:  # a failed run keeps everything it wrote, for the post-mortem
        print(
            f"python -m bench: {type(problem).__name__}: {problem}\nlogs, policy and server data kept in {root}",
            file=sys.stderr,
        )
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    table = rows(floor, cases, sla, suite, plan.cases)
    print(render(table))
    print()
    for line in notes(plan, floor, cases, worker_env, (load_before, load_after), args.rounds):
        print(f"- {line}")
    if args.keep:
        print(f"- kept {root}")
    if args.json:
        figures = {
            "plan": asdict(plan),
            "floor": asdict(floor),
            "cases": asdict(cases),
            "sla": sla,
            "suite": suite,
            "rounds": {"floor": [asdict(r) for r in floors], "cases": [asdict(r) for r in rounds_of_cases]},
            "rows": [
                {"figure": r.figure, "ours": r.ours, "floor": r.floor, "ratio": r.ratio, "verdict": r.verdict}
                for r in table
            ],
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
