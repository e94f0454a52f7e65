"""`python -m bench.scale.combine` names the file and what is wrong with it, and never prints a partial table.

Reading a real run's file back is tested beside the smoke run that writes one (tests/test_bench_scale.py).
Run as a process, as an operator runs it: the bench imports the test receivers from its own path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def combine(*runs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.scale.combine", *map(str, runs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    run = combine(missing)
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
def test_a_file_that_is_not_a_run_is_named_with_the_reason(tmp_path: Path, content: str, problem: str) -> None:
    figures = tmp_path / "run.json"
    figures.write_text(content)
    run = combine(figures)
    assert run.returncode == 2
    assert f"{figures}: not a bench.scale --json file" in run.stderr
    assert problem in run.stderr
    assert run.stdout == ""
