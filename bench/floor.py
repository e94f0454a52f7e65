"""The bare-Temporal floor: the least a deadline can cost.

One workflow sleeps until its deadline, then runs one no-op activity and
returns the wall-clock time the activity started. A support case does this
and more at its response deadline; the floor is what Temporal alone costs on
the same server, with the same worker settings, measured the same way.
"""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio import activity, workflow

FLOOR_WORKFLOW = "BenchFloor"
FLOOR_ACTIVITY = "bench_floor_noop"


@activity.defn(name=FLOOR_ACTIVITY)
async def noop() -> float:
    """Nothing but the moment it started (epoch seconds), which is what lateness is measured by."""
    return time.time()


@workflow.defn(name=FLOOR_WORKFLOW)
class FloorWorkflow:
    @workflow.run
    async def run(self, deadline: float) -> float:
        """Sleep to `deadline` (epoch seconds), then run the no-op activity once."""
        wait = deadline - workflow.now().timestamp()
        if wait > 0:
            await workflow.sleep(timedelta(seconds=wait))
        return await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
