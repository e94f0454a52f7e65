"""The case's next moment to act (a warning, a breach, the auto-close) as one durable timer.

The timer is kept while changes (an update, a ladder step, a delivery)
leave that moment where it was: a change costs a recompute, not timer
commands in the history.

A moment far ahead is woken for `WAKE_BEFORE` early, and the rest is a
short timer armed then. Temporal starts a timer when the task that asked
for it completes, not at `workflow.now()` (the task's start), so a timer
armed by a slow task (a case opened while the worker is busy) fires late by
that task's whole duration, measured here (bench/scale) at up to seconds.
The early wake re-arms from a task that does nothing else, and it loads a
case the worker's cache had evicted before its deadline, not at it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.state import Alarm

WAKE_BEFORE = timedelta(seconds=30)


class AlarmClock:
    def __init__(self) -> None:
        self.moment: datetime | None = None
        self.timer: asyncio.Task[None] | None = None

    async def until(self, alarm: Alarm | None, changed: Callable[[], bool]) -> None:
        """Wait for `alarm` (None: no moment ahead) or for `changed()`, whichever comes first."""
        moment = alarm.at if alarm else None
        if moment != self.moment or (self.timer is not None and self.timer.done()):
            self.stop()
            self.moment = moment
            if alarm is not None:
                wait = max(alarm.at - workflow.now(), timedelta(0))
                if wait > 2 * WAKE_BEFORE:
                    wait -= WAKE_BEFORE
                self.timer = asyncio.create_task(workflow.sleep(wait, summary=alarm.summary))
        timer = self.timer
        await workflow.wait_condition(lambda: changed() or (timer is not None and timer.done()))

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.moment = None, None
