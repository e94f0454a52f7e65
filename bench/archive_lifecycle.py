"""`ArchiveLifecycle`: exactly what the archive adds to a `SupportCase`, for bench/records.py.

The opening row in the background, then, once the case is closed (a signal),
the final row as its last act, with the workflow's own retry options and the
production `archive_case` activity (served by bench/records_worker.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.archive_policy import ARCHIVE_ACTIVITY, ARCHIVE_OPTIONS
    from workflows.contracts import CaseStatus

ARCHIVE_LIFECYCLE = "BenchArchiveLifecycle"


@workflow.defn(name=ARCHIVE_LIFECYCLE)
class ArchiveLifecycle:
    def __init__(self) -> None:
        self.opening: CaseStatus | None = None
        self.final: CaseStatus | None = None

    @workflow.run
    async def run(self, opening: CaseStatus) -> None:
        self.opening = opening
        workflow.start_activity(ARCHIVE_ACTIVITY, opening, **ARCHIVE_OPTIONS)
        await workflow.wait_condition(lambda: self.final is not None, timeout=timedelta(hours=1))
        await workflow.execute_activity(ARCHIVE_ACTIVITY, self.final, **ARCHIVE_OPTIONS)

    @workflow.signal
    def close(self, final: CaseStatus) -> None:
        self.final = final

    @workflow.query
    def status(self) -> CaseStatus:
        """Answers like a case's `status` query: what the report asks each open case."""
        return self.final or self.opening
