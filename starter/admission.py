"""Admitting a request: the one place that decides whether it may open a case, before anything reaches Temporal.

The gateway's routes, the CLI's `case open`, the mailbox and the phone
line all admit through `admit`. Synchronous channels (someone is waiting
to fix the form) are refused with every field to fix named; asynchronous
ones (email, voicemail, messaging, phone, emergency line) are accepted,
and the case records the gaps and asks for them. The workflow checks again
(`workflows/opening.py`) for starts that come from other clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starter.intake.addresses import EXAMPLE, is_email_address
from starter.intake.phi import phi_in_requester, redact_request
from starter.intake.text import with_stored_text
from workflows.contracts import CaseRequest
from workflows.opening import PAST_LIMIT, received_at_problem
from workflows.policy import SYNCHRONOUS_CHANNELS, Policy
from workflows.state import missing_fields

# Far below Temporal's 2 MB payload limit, which a pasted log in an email body could otherwise pass.
TEXT_LIMITS = {"subject": 1_000, "description": 100_000}
EARLIEST_RECEIVED = datetime(1970, 1, 1, tzinfo=UTC)


class Refused(ValueError):
    """The request cannot open a case as sent; `problems` are (field, problem) pairs for its sender."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in problems))


def admit(request: CaseRequest, policy: Policy, receipt_time: datetime, operator: bool = False) -> CaseRequest:
    """The request as it may open a case (gateway findings in `notes`, PHI redacted), or `Refused`.

    An operator at the CLI is there to fix a bad value whatever the channel, may record a request received
    long ago (a backfill), and records what they know: the case asks the requester for the rest."""
    synchronous = request.channel in SYNCHRONOUS_CHANNELS or operator
    past_limit = None if operator else PAST_LIMIT
    redacting = policy.intake.redact_phi
    request = with_stored_text(request)
    if request.channel not in policy.intake.channels and synchronous:
        # Nothing else matters on a channel the tenant does not take. Asynchronous channels are
        # accepted; the workflow notes the unlisted channel in `opened`.
        takes = ", ".join(policy.intake.channels)
        raise Refused([("channel", f"{policy.tenant} does not take {request.channel} requests (it takes {takes})")])
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    if request.severity is not None and request.severity not in policy.severities and synchronous:
        known = ", ".join(str(level) for level in policy.severities)
        problems.append(("severity", f"{policy.tenant} has no severity {request.severity} (it has {known})"))
    if why := _received_at_problem(request.received_at, receipt_time, past_limit):
        if synchronous:
            problems.append(("received_at", why))
        else:
            request = request.model_copy(update={"received_at": receipt_time})
            notes.append(f"{why}; replaced by the receipt time")
    email = request.requester.email
    if email is not None and not is_email_address(email):
        if synchronous:
            problems.append(("requester.email", f"not one email address such as {EXAMPLE}"))
        else:
            # Nobody is there to correct it: open the case without it, and let the case ask.
            request = request.model_copy(update={"requester": request.requester.model_copy(update={"email": None})})
            quoted = "" if redacting else f" {email[:80]!r}"
            notes.append(f"requester email{quoted} is not one address we can write to; dropped")
    if redacting:
        for field in phi_in_requester(request.requester):
            if synchronous:
                problems.append(
                    (field, f"{policy.tenant} takes no PHI: this looks like an SSN, a date of birth or a record number")
                )
            else:
                # Nobody is there to correct it: the case opens without it, and asks for it (Decision 14).
                name = field.removeprefix("requester.")
                requester = request.requester.model_copy(update={name: None})
                withheld = [*request.withheld, field]
                request = request.model_copy(
                    update={"requester": requester, "phi_redacted": True, "withheld": withheld}
                )
                notes.append(f"{field} looked like PHI (an SSN, a date of birth or a record number); not kept")
    if synchronous and not operator:
        problems += [(field, f"required by the {policy.tenant} policy") for field in missing_fields(request, policy)]
    if problems:
        raise Refused(problems)
    for name, limit in TEXT_LIMITS.items():
        text = getattr(request, name)
        if text is not None and len(text) > limit:
            request = request.model_copy(update={name: text[:limit] + "…"})
            notes.append(f"{name} cut from {len(text)} to {limit} characters")
    if notes:
        request = request.model_copy(update={"notes": [*request.notes, *notes]})
    return redact_request(request) if redacting else request


def _received_at_problem(
    received_at: datetime | None, receipt_time: datetime, past_limit: timedelta | None
) -> str | None:
    """`received_at_problem`, for any moment pydantic accepts: year 1 at +05:00 has no UTC instant to compare,
    and no case (not even an operator's backfill) was received before 1970."""
    if received_at is None:
        return None
    try:
        instant = received_at.astimezone(UTC)
    except (OverflowError, ValueError):
        return f"received_at {received_at.isoformat()} is not a time a case can have been received"
    if why := received_at_problem(received_at, receipt_time, past_limit):
        return why
    if instant < EARLIEST_RECEIVED:
        return f"received_at {received_at.isoformat()} is before 1970: not a time a case can have been received"
    return None
