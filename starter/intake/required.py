"""What a request lacks under its tenant's policy, and the one rule about clocks in the future."""

from __future__ import annotations

from datetime import datetime

from workflows.case import FUTURE_TOLERANCE
from workflows.contracts import CaseRequest
from workflows.policy import Policy
from workflows.state import field_value, is_given


def missing_fields(request: CaseRequest, policy: Policy) -> list[str]:
    """The policy's `intake.required` entries this request leaves empty (blank counts), in policy order."""
    return [field for field in policy.intake.required if not is_given(field_value(request, field))]


def received_at_problem(received_at: datetime | None, receipt_time: datetime) -> str | None:
    """Why `received_at` cannot start the SLA clock: more than 5 minutes after we received the request."""
    if received_at is None:
        return None
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        return f"received_at {received_at.isoformat()} has no UTC offset"
    if received_at - receipt_time > FUTURE_TOLERANCE:
        return (
            f"received_at {received_at.isoformat()} is more than {FUTURE_TOLERANCE.seconds // 60} minutes "
            f"in the future (received {receipt_time.isoformat()})"
        )
    return None
