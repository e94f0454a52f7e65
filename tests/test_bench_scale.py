"""`python -m bench.scale` runs end to end: both levels, each beside the floor, and the growth; and
`bench.scale.combine` reads its `--json` back, or names the file and what is wrong with it.

A smoke run with short windows: it proves the harness works, not how fast
anything is. No timing is asserted here, ever. Its own file, so the suite's
workers run it beside the other benchmark smoke runs (scripts/test, --dist loadfile).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.scale.breakdown import PARTS
from bench.scale.combine import main as combine_main

pytestmark = pytest.mark.takes(115)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).resolve().parent.parent


SCALE_FIGURES = [
    "intake via start_case, cases/s",
    "intake via gateway, cases/s",
    "gateway CPU per open, ms",
    "sustained fill, cases/s",
    "breach lateness evicted p50, s",
    "breach lateness evicted p99, s",
    "breach lateness evicted max, s",
    "breach lateness cached p50, s",
    "breach lateness cached p99, s",
    *(f"evicted lateness, {part} p99, s" for part in PARTS),
    *(f"evicted lateness, latest 1%: {part} mean, s" for part in PARTS),
    "worker CPU per breach, evicted, ms",
    "worker CPU per breach, cached, ms",
    "worker RSS, MiB",
    "server RSS, MiB",
    "SQLite per 1,000 open, MiB",
    "GET /v1/cases breached p50, ms",
    "GET /v1/cases breached p99, ms",
    "case list p50, s",
    "case list p99, s",
    "auditor run, s",
    "auditor query, ms",
]


@dataclass
class Combined:
    returncode: int
    stdout: str
    stderr: str


def combine(capsys: pytest.CaptureFixture[str], *runs: Path) -> Combined:
    """`python -m bench.scale.combine RUN.json ...`: its exit code and what it printed."""
    returncode = combine_main([str(run) for run in runs])
    printed = capsys.readouterr()
    return Combined(returncode, printed.out, printed.err)


def test_scale_bench_prints_both_levels_beside_the_floor_and_the_growth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench.scale --quick` (docs/benchmarks.md, "Scale"): two small levels, every figure measured on
    both sides, every timed deadline acted on, and the growth from one level to the next. No timing is judged."""
    figures = tmp_path / "scale.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--quick", "--json", str(figures)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    out = run.stdout
    for level in ("### 100 open cases", "### 200 open cases", "### Growth"):
        assert level in out, out
    tables = out.split("### ")[1:3]
    for table in tables:
        for figure in SCALE_FIGURES:
            row = next((line for line in table.splitlines() if line.startswith(f"| {figure} ")), None)
            assert row is not None, f"no row {figure!r} in:\n{table}"
            cells = [cell.strip() for cell in row.split("|")[2:4]]
            assert "n/a" not in cells[0], f"{figure} was not measured:\n{table}"
            if figure != "gateway CPU per open, ms":
                assert cells[1] not in ("n/a", "—"), f"{figure} has no floor beside it:\n{table}"
    growth = out.split("### Growth", 1)[1]
    assert all(f"| {figure} |" in growth for figure in SCALE_FIGURES), growth
    # Each deadline's lateness, taken apart from its history (bench/scale/breakdown.py), adds up to the whole.
    for level in json.loads(figures.read_text())["levels"]:
        for side in ("cases", "floor"):
            for name in ("evicted", "cached"):
                window = level[side][name]
                parts = window["breakdown"]
                assert parts["read"] == window["lateness"]["measured"], (side, name, parts)
                assert parts["residual"] < 0.01, (side, name, parts)
    # The run split in two files, one level each, and read back by `python -m bench.scale.combine` (in either
    # order) gives the same growth; one level alone, or a level twice, is refused with the reason.
    run_figures = json.loads(figures.read_text())
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for path, level in ((first, run_figures["levels"][0]), (second, run_figures["levels"][1])):
        path.write_text(json.dumps({"plan": run_figures["plan"], "levels": [level]}))

    combined = combine(capsys, second, first)
    assert combined.returncode == 0, combined.stderr
    assert combined.stdout.strip() == ("### Growth" + growth.split("\n\n- ", 1)[0]).strip(), combined.stdout
    for runs, problem in (((first,), "growth needs two levels or more"), ((figures, second), "level 200 is in more")):
        refused = combine(capsys, *runs)
        assert refused.returncode == 2
        assert problem in refused.stderr, refused.stderr
        assert refused.stdout == ""


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.json"
    run = combine(capsys, missing)
    assert run.returncode == 2
    assert f"{missing}: No such file or directory" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "Expecting value"),
        (json.dumps({"plan": {}}), "'levels'"),
        (json.dumps({"levels": [{"level": 1000}]}), "cases"),
    ],
)
def test_a_file_that_is_not_a_run_is_named_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    figures = tmp_path / "run.json"
    figures.write_text(content)
    run = combine(capsys, figures)
    assert run.returncode == 2
    assert f"{figures}: not a bench.scale --json file" in run.stderr
    assert problem in run.stderr
    assert run.stdout == ""
