"""Opening a case: the state a request starts in, and the one rule about its `received_at`.

The gateway admits requests before they reach Temporal (starter/admission.py);
the workflow applies the same rules again here, as the second line of
defence for starts that bypass the gateway (another client, plain JSON).
`start_case` also calls `opened_case`, so the search attributes a case
starts with are the ones its first task computes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflows import messages
from workflows.contracts import CaseRequest
from workflows.policy import LoadedPolicy
from workflows.state import CaseState, missing_fields

FUTURE_TOLERANCE = timedelta(minutes=5)
# Before this no support request was received: a year-1 `received_at` is damage, never a deadline to compute.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
# Older than this, a `received_at` would open a case already breached and paging: the gateway refuses it.
PAST_LIMIT = timedelta(days=30)


def received_at_problem(
    received_at: datetime | None, receipt_time: datetime, past_limit: timedelta | None = PAST_LIMIT
) -> str | None:
    """Why `received_at` cannot start the SLA clock, or None when it can."""
    if received_at is None:
        return None
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        return f"received_at {received_at.isoformat()} has no UTC offset"
    if received_at - receipt_time > FUTURE_TOLERANCE:
        return (
            f"received_at {received_at.isoformat()} is more than {FUTURE_TOLERANCE.seconds // 60} minutes "
            f"in the future (received {receipt_time.isoformat()})"
        )
    if past_limit is not None and receipt_time - received_at > past_limit:
        return (
            f"received_at {received_at.isoformat()} is more than {past_limit.days} days in the past "
            f"(received {receipt_time.isoformat()})"
        )
    return None


def clock_can_start(received_at: datetime, now: datetime) -> bool:
    """The workflow's own check, for starts that bypass the gateway: not in the future, not before 1970."""
    try:
        return EARLIEST <= received_at <= now + FUTURE_TOLERANCE
    except OverflowError:  # year 1 with a positive offset has no UTC instant
        return False


def opened_case(
    case_id: str, request: CaseRequest, loaded: LoadedPolicy, now: datetime, *, tell_requester: bool = True
) -> CaseState:
    """The case as it opens: clocks set, gaps listed (never refused), the requester told, paging begun.

    `start_case` passes `tell_requester=False`: it reads only the attributes the opening publishes, and
    the acknowledgement it would compose is the workflow's to send."""
    policy = loaded.policy
    notes = list(request.notes)
    received_at = request.received_at or now
    if not clock_can_start(received_at, now):
        notes.append(f"received_at {received_at.isoformat()} cannot start the clock; replaced by the receipt time")
        received_at = now
    severity = policy.severity_for(request.channel, request.severity)
    if severity not in policy.severities:
        notes.append(f"severity {request.severity} is not in the policy; used {policy.default_severity}")
        severity = policy.default_severity
    if request.channel not in policy.intake.channels:
        notes.append(f"channel {request.channel} is not one {policy.tenant} lists; accepted anyway")
    case = CaseState(
        case_id=case_id,
        loaded=loaded,
        channel=request.channel,
        severity=severity,
        requester=request.requester,
        requester_email_key=request.requester_email_key,
        subject=request.subject,
        description=request.description,
        recording_url=request.recording_url,
        time_critical=request.time_critical,
        new_installation=request.new_installation,
        existing_case=request.existing_case,
        worked_with=request.worked_with,
        received_at=received_at,
        phi_redacted=request.phi_redacted,
    )
    case.missing = missing_fields(case, policy) + [f for f in request.withheld if f not in case.missing]
    case.record(
        now,
        "opened",
        channel=request.channel,
        source_id=request.source_id,
        severity=case.severity,
        missing=case.missing or None,
        notes=notes or None,
    )
    if case.phi_redacted:
        case.record(now, "phi_redacted", note="PHI-like text was removed at intake; what was removed is not kept")
    if tell_requester:
        acknowledge_requester(case, now)
    if request.answered_by:
        taken_live(case, request.answered_by, now)
    elif case.channel == "emergency_line" or case.time_critical:
        case.start_ladder("emergency_intake", now)
    return case


def acknowledge_requester(case: CaseState, now: datetime) -> None:
    """The acknowledgement, and the request for missing details, are recorded when delivered, not here."""
    due = case.due_at("response")
    assert due is not None
    if not case.tell_requester("requester_ack", messages.acknowledgement_text(case, due)):
        unreachable = "the requester left no email or phone to write to"
        case.record(now, "notification_failed", ladder="requester_ack", step=0, attempts=0, last_error=unreachable)
        return
    if case.missing:
        case.tell_requester("missing_fields", messages.missing_fields_text(case))


def taken_live(case: CaseState, member: str, now: datetime) -> None:
    """An emergency call answered by an on-call member: they have responded, and nobody needs paging. The
    response is the call itself, so it counts from when the call came in, not from when its case opened."""
    case.responded_at, case.state, case.assignee = case.received_at, "responded", member
    case.settle("response")
    case.escalation.acknowledged_by = member
    case.record(now, "responded", by=member, first_response=True, message="answered the call live")
