"""The benchmark harness (`python -m bench`) runs end to end and prints every figure beside the floor.

A smoke run at a tiny N with short windows: it proves the harness works, not
how fast anything is. No timing is asserted here, ever (issue 7).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.takes(60)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).resolve().parent.parent

FIGURES = [
    "intake via gateway, cases/s",
    "intake via start_case, cases/s",
    "breach lateness p50, s",
    "breach lateness p99, s",
    "breach lateness max, s",
    "server CPU per lifecycle, ms",
    "worker CPU per lifecycle, ms",
    "worker RSS per 1,000 open, MiB",
    "history events per lifecycle",
    "SLA math (a) 24h business, cold, µs",
    "SLA math (a) 24h business, warm, µs",
    "SLA math (b) 10d 24x7, cold, µs",
    "SLA math (c) 240h business, cold, µs",
    "test suite wall time, s",
]


def run_bench(*args: str, timeout: float = 900) -> tuple[int, str, str]:
    """`python -m bench` in a child; on a timeout it gets SIGTERM first, so it stops its own dev server and workers."""
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = bench.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        bench.terminate()
        out, err = bench.communicate(timeout=60)
        raise AssertionError(f"python -m bench did not finish in {timeout:.0f} s:\n{err[-4000:]}") from None
    return bench.returncode, out, err


def test_bench_prints_every_figure_beside_the_floor() -> None:
    code, out, err = run_bench("--cases", "20", "--quick", "--sla-samples", "100")
    assert code == 0, err[-4000:]
    lines = out.splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:5]] == ["figure", "supportflow", "floor", "ratio"]
    for figure in FIGURES:
        row = next((line for line in lines if line.startswith(f"| {figure} ")), None)
        assert row is not None, f"no row {figure!r} in:\n{out}"
        assert "n/a" not in row, f"{figure} was not measured:\n{out}"
    assert "not run (--suite)" in out
    assert "(20 measured, 0 missing)" in out and "(20, 0 missing)" in out


def test_sdk_memory_probe_measures_every_variant() -> None:
    """`python -m bench.sdk_memory` (docs/benchmarks.md, "Where the cost is"): one row of figures per variant."""
    from bench.sdk_memory import VARIANTS

    probe = subprocess.run(
        [sys.executable, "-m", "bench.sdk_memory", "--workflows", "5", "--settle", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-4000:]
    rows = [line for line in probe.stdout.splitlines() if line.startswith("| ") and not line.startswith("| variant")]
    assert [row.split("|")[1].strip() for row in rows] == list(VARIANTS)
    first, *others = ([cell.strip() for cell in row.split("|")[2:5]] for row in rows)
    assert first[1] == "—"
    measured = [first[0], first[2]] + [cell for cells in others for cell in cells]
    assert all(re.fullmatch(r"[+-]?\d+\.\d", cell) for cell in measured), probe.stdout
