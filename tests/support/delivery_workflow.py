"""A test-only workflow that runs one `deliver` activity the way the case workflow does.

It lives in its own module, with no test imports, because the workflow
sandbox re-imports the module a workflow is defined in.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import Delivery, DeliveryResult
    from workflows.delivery_policy import (
        DELIVER_ACTIVITY,
        DELIVERY_RETRY,
        DELIVERY_SCHEDULE_TO_CLOSE,
        DELIVERY_START_TO_CLOSE,
    )


@workflow.defn
class DeliverOnce:
    @workflow.run
    async def run(self, delivery: Delivery) -> DeliveryResult:
        return await workflow.execute_activity(
            DELIVER_ACTIVITY,
            delivery,
            result_type=DeliveryResult,
            retry_policy=DELIVERY_RETRY,
            schedule_to_close_timeout=DELIVERY_SCHEDULE_TO_CLOSE,
            start_to_close_timeout=DELIVERY_START_TO_CLOSE,
            summary=f"{delivery.channel} to {delivery.contact}",
        )
