"""The growth over levels measured in separate runs: `python -m bench.scale.combine RUN.json ...`.

A 100,000 level takes well over an hour, so it is run apart from the defaults.
This reads each run's `--json` file and prints the growth over all their levels,
as one run with every level would. Compare runs of the same code on the same
machine only: a faster machine moves every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import pydantic

from bench.scale.report import Level, growth_table

LEVEL = pydantic.TypeAdapter(Level)


class UnreadableRun(Exception):
    """A file that is not a `python -m bench.scale --json` result, named with what is wrong."""


def read_levels(run: Path) -> list[Level]:
    try:
        return [LEVEL.validate_python(level) for level in json.loads(run.read_text())["levels"]]
    except OSError as problem:
        raise UnreadableRun(f"{run}: {problem.strerror}") from problem
    except (ValueError, KeyError, TypeError) as problem:  # pydantic's ValidationError is a ValueError
        raise UnreadableRun(f"{run}: not a bench.scale --json file: {problem}") from problem


def combined(runs: list[Path]) -> list[Level]:
    levels = sorted((at for run in runs for at in read_levels(run)), key=lambda at: at.level)
    repeated = [level for level, count in Counter(at.level for at in levels).items() if count > 1]
    if repeated:
        raise UnreadableRun(f"level {', '.join(f'{level:,}' for level in repeated)} is in more than one run")
    if len(levels) < 2:
        raise UnreadableRun("growth needs two levels or more")
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale.combine", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="files written by python -m bench.scale --json")
    args = parser.parse_args(argv)
    try:
        levels = combined(args.runs)
    except UnreadableRun as problem:
        print(f"python -m bench.scale.combine: {problem}", file=sys.stderr)
        return 2
    print(growth_table(levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
