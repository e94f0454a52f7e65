"""Process accounting from /proc: CPU seconds (utime + stime, every thread) and resident memory.

Read from outside the process, so measuring costs the measured process nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name (field 2) may hold spaces and parentheses; everything after the last ')' is fixed.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def rss_bytes(pid: int) -> int:
    """VmRSS from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


@dataclass(frozen=True)
class CpuMark:
    """CPU seconds of each named process at one moment, with the wall clock."""

    at: float
    seconds: dict[str, float]

    def minus(self, earlier: CpuMark) -> dict[str, float]:
        return {name: self.seconds[name] - earlier.seconds.get(name, 0.0) for name in self.seconds}

    def rates(self, earlier: CpuMark) -> dict[str, float]:
        """CPU seconds per wall-clock second since `earlier`: a process's share of one core."""
        wall = max(self.at - earlier.at, 1e-9)
        return {name: spent / wall for name, spent in self.minus(earlier).items()}
