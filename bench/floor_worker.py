"""`python -m bench.floor_worker`: the production worker (`worker.main`) serving only the floor.

It swaps `worker.registered` for the floor's workflow and activity and
changes nothing else: the same environment variables, the same sandbox
passthrough, cache, pollers and concurrency limits, the same connection and
start-up checks. So "the same worker settings" holds by construction.
"""

from __future__ import annotations

import sys

import worker
from bench.floor import FloorWorkflow, noop


def floor_only(client=None) -> tuple[list[type], list]:
    return [FloorWorkflow], [noop]


if __name__ == "__main__":
    worker.registered = floor_only
    sys.exit(worker.main())
