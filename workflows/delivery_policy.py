"""How the workflow runs a delivery (DESIGN "Delivery", Retries): timeouts, retry policy, and reading a failure.

The workflow imports this module, so it holds constants and pure functions
only; the `deliver` activity itself lives in `activities/deliver.py` and is
called by name, which keeps httpx and smtplib out of the sandbox.
"""

from datetime import timedelta

from temporalio.common import RetryPolicy

DELIVER_ACTIVITY = "deliver"

# Error types `deliver` raises; the workflow and dashboards can match on them.
DELIVERY_REJECTED = "DeliveryRejected"  # permanent: a 4xx, a 3xx, an SMTP 5xx, missing configuration
DELIVERY_UNAVAILABLE = "DeliveryUnavailable"  # retryable: 408, 429, 5xx, timeouts, SMTP 4xx, connection errors

DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    # The activity already marks these non-retryable; naming the type here too
    # means a permanent failure is never retried even if a channel forgets.
    non_retryable_error_types=[DELIVERY_REJECTED],
)
# An hour of retries, then the delivery is recorded as notification_failed.
DELIVERY_SCHEDULE_TO_CLOSE = timedelta(hours=1)
# One attempt: the channels give up on the network after 10 s by default
# (SUPPORTFLOW_DELIVERY_TIMEOUT), so this only catches a hung worker.
DELIVERY_START_TO_CLOSE = timedelta(seconds=30)


def delivery_failure(error: BaseException) -> tuple[int | None, str]:
    """(attempts, last_error) for the timeline's `notification_failed`, from the ActivityError `deliver` ended with.

    Walks the cause chain, because after `schedule_to_close` the direct cause
    is a timeout and the last ApplicationError sits beneath it. Duck-typed, so
    this module needs no import beyond temporalio.common.
    """
    seen: BaseException | None = error
    while seen is not None:
        details = getattr(seen, "details", None)
        if details and isinstance(details[0], dict) and "error" in details[0]:
            return details[0].get("attempt"), str(details[0]["error"])
        seen = getattr(seen, "cause", None) or seen.__cause__
    return None, str(getattr(error, "cause", None) or error)
