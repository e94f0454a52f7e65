"""One run of one escalation ladder: steps in order, rotations one member at a
time, `repeat` rounds. Stopping it (acknowledge, response, resolve, a breach
ladder superseding a warning ladder) is the case's decision, not the ladder's."""

from __future__ import annotations

import asyncio
from typing import Protocol

from temporalio import workflow

from workflows.policy import Ladder, Step, When


class LadderHost(Protocol):
    """What a ladder needs from its case."""

    def rotation(self, name: str) -> list[str] | None: ...

    def when_holds(self, when: When) -> bool: ...

    def step_reached(self, run: LadderRun, skipped: bool) -> None: ...

    def page(self, run: LadderRun, step: Step, contact: str) -> list[asyncio.Task[None]]: ...

    def exhausted(self, run: LadderRun) -> None: ...


class LadderRun:
    def __init__(self, host: LadderHost, name: str, ladder: Ladder, run: int):
        self.host = host
        self.name = name
        self.ladder = ladder
        self.run = run
        self.step = 0
        self.round = 0
        self.deliveries: list[asyncio.Task[None]] = []
        self.task: asyncio.Task[None] | None = None

    def begin(self) -> LadderRun:
        self.task = asyncio.create_task(self.climb())
        return self

    def cancel(self) -> None:
        """Stop climbing; the deliveries of the current step are cancelled with it."""
        if self.task is not None:
            self.task.cancel()

    async def climb(self) -> None:
        try:
            for round_ in range(1, self.ladder.repeat + 2):
                self.round = round_
                for number, step in enumerate(self.ladder.steps, start=1):
                    self.step = number
                    if step.when and not self.host.when_holds(step.when):
                        self.host.step_reached(self, skipped=True)
                        continue
                    self.host.step_reached(self, skipped=False)
                    await self.climb_step(step)
            self.host.exhausted(self)
        except asyncio.CancelledError:
            for delivery in self.deliveries:
                delivery.cancel()
            raise

    async def climb_step(self, step: Step) -> None:
        """Contacts are paged at once; each rotation pages its next member after every wait."""
        wanted = [target for target, when in step.targets if when is None or self.host.when_holds(when)]
        rotations = {target: self.host.rotation(target) for target in wanted}
        turns = max([len(members) for members in rotations.values() if members] or [1])
        for turn in range(turns):
            for target, members in rotations.items():
                if members is None and turn == 0:
                    self.deliveries += self.host.page(self, step, target)
                elif members is not None and turn < len(members):
                    self.deliveries += self.host.page(self, step, members[turn])
            if step.wait_span:
                await workflow.sleep(
                    step.wait_span,
                    summary=f"{self.name} step {self.step}, round {self.round}: wait {step.wait} for an acknowledgement",
                )
