"""The two ways a delivery attempt fails, as every channel reports them.

Channels raise these plain exceptions; `deliver` turns them into Temporal
ApplicationErrors in one place, so channels stay testable without Temporal.
"""

from __future__ import annotations

from datetime import timedelta


class DeliveryFailed(Exception):
    retryable = False

    def __init__(self, error: str, retry_after: timedelta | None = None):
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


class DeliveryRejected(DeliveryFailed):
    """Retrying cannot help: the receiver refused the message, or we are misconfigured."""


class DeliveryUnavailable(DeliveryFailed):
    """The receiver could not take the message now; a later attempt may succeed."""

    retryable = True
