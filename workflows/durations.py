"""Policy durations: `30m`, `4h`, `2d` (and `0m` for a ladder wait)."""

import re
from datetime import timedelta

DURATION = re.compile(r"^(?:[1-9][0-9]*(?:m|h|d)|0m)$")
LONGEST = timedelta(days=3650)
UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """The contract's duration grammar; `0m` only where a zero wait makes sense."""
    if not isinstance(text, str) or not DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration like 30m, 4h or 2d")
    if text == "0m" and not allow_zero:
        raise ValueError("a duration must be longer than 0m here")
    if len(text) > 8 or int(text[:-1]) * UNIT[text[-1]] > LONGEST:
        raise ValueError(f"{text!r} is longer than a support promise can be (at most 3650d)")
    return int(text[:-1]) * UNIT[text[-1]]


def format_duration(span: timedelta) -> str:
    """Short human form for summaries: 1d 2h 30m."""
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(p for p in parts if p) or "0m"
