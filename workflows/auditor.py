"""FleetAudit: the schedule's check that no open case slept through a deadline.

A case records its own breach when its timer fires, so an open case whose
`NextDueAt` lies in the past means no worker ran it on time. The audit asks
visibility for such cases and, when it finds any, raises an alert.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.audit_report import (
        ALERT_MISSED_DEADLINES,
        ALERT_RETRY,
        ALERT_SCHEDULE_TO_CLOSE,
        ALERT_START_TO_CLOSE,
        FIND_MISSED_DEADLINES,
        FIND_RETRY,
        FIND_TIMEOUT,
        AuditQuery,
        AuditReport,
    )


@workflow.defn(name="FleetAudit")
class FleetAuditWorkflow:
    """Lists open cases past a deadline with no breach recorded; alerts when the list is not empty."""

    @workflow.run
    async def run(self) -> AuditReport:
        report = await workflow.execute_activity(
            FIND_MISSED_DEADLINES,
            AuditQuery(audit_id=workflow.info().workflow_id, as_of=workflow.now()),
            result_type=AuditReport,
            start_to_close_timeout=FIND_TIMEOUT,
            retry_policy=FIND_RETRY,
            summary="open cases past a deadline with no breach recorded",
        )
        if report.missed:
            report.alert = await workflow.execute_activity(
                ALERT_MISSED_DEADLINES,
                report,
                result_type=str,
                start_to_close_timeout=ALERT_START_TO_CLOSE,
                schedule_to_close_timeout=ALERT_SCHEDULE_TO_CLOSE,
                retry_policy=ALERT_RETRY,
                summary=f"alert: {len(report.missed)} case(s) missed a deadline",
            )
        workflow.set_current_details(self.details(report))
        return report

    def details(self, report: AuditReport) -> str:
        if not report.missed:
            return f"No open case missed a deadline (as of {report.as_of.isoformat()})."
        rows = "\n".join(
            f"| {m.case_id} | {m.tenant} | {m.target or '?'} | {m.due_at.isoformat()} |" for m in report.missed
        )
        return f"**{len(report.missed)} case(s) missed a deadline**\n\n| case | tenant | clock | due |\n|---|---|---|---|\n{rows}"
