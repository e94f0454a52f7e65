"""`python -m bench.records` runs end to end and prints every figure beside the floor.

A smoke run with short windows: it proves the harness works, not how fast
anything is. No timing is asserted here, ever. Its own file, so the suite's
workers run it beside the other benchmark smoke runs (scripts/test, --dist loadfile).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.takes(17)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).resolve().parent.parent


def test_records_bench_prints_the_archive_beside_the_floor_and_the_report_figures() -> None:
    """`python -m bench.records --quick` (docs/benchmarks.md, "Case records"): every figure measured."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.records", "--quick"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-4000:]
    for figure in (
        "server CPU per lifecycle, ms",
        "worker CPU per lifecycle, ms",
        "history events per lifecycle",
        "history events a case gains",
        "status query per open case in a report, ms",
        "report over 500 archived cases, s",
        "simulate, cases/s",
    ):
        row = next((line for line in run.stdout.splitlines() if line.startswith(f"| {figure} ")), None)
        assert row is not None and "n/a" not in row, f"{figure}:\n{run.stdout}"
    assert "×" in next(line for line in run.stdout.splitlines() if "server CPU per lifecycle" in line)
