"""The one table: every figure beside the bare-Temporal floor from the same run, the ratio, and the issue's target."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    figure: str
    ours: float | None
    floor: float | None = None
    digits: int = 1
    target: str = ""
    meets: Callable[[float | None, float | None], bool] | None = None  # (ours, ratio) -> met?
    text: str | None = None  # shown instead of a number (a figure not measured in this run)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.floor is None or not self.floor or math.isnan(self.floor) or math.isnan(self.ours):
            return None
        return self.ours / self.floor

    @property
    def verdict(self) -> str:
        if self.meets is None:
            return ""
        if self.ours is None or math.isnan(self.ours):
            return "n/a"
        return "PASS" if self.meets(self.ours, self.ratio) else "FAIL"


HEADER = ("figure", "supportflow", "floor", "ratio", "target", "")


def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def cells(row: Row) -> tuple[str, ...]:
    ours = row.text if row.text is not None else _number(row.ours, row.digits)
    ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
    return (row.figure, ours, _number(row.floor, row.digits), ratio, row.target, row.verdict)


def render(rows: list[Row]) -> str:
    """A Markdown table (readable as plain text too), columns padded to their widest cell."""
    body = [cells(row) for row in rows]
    widths = [max(len(line[i]) for line in [HEADER, *body]) for i in range(len(HEADER))]
    right = {1, 2, 3}

    def line(values: tuple[str, ...]) -> str:
        padded = [
            value.rjust(width) if i in right else value.ljust(width)
            for i, (value, width) in enumerate(zip(values, widths))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(("-" * (width + 1) + ":") if i in right else "-" * (width + 2) for i, width in enumerate(widths))
        + "|"
    )
    return "\n".join([line(HEADER), rule, *(line(values) for values in body)])
