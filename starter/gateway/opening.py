"""Admitting a request: every check first, then redaction, then one `start_case`.

Bad input never half-starts anything: nothing reaches Temporal until the
request has passed every check. Synchronous channels (someone is waiting to
fix the form) get a 422 naming each field; asynchronous ones (email,
voicemail, messaging, phone, emergency line) are accepted, and the case
records the gaps and asks for them.
"""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError, RPCStatusCode

from starter.cases import start_case
from starter.gateway.errors import FieldErrors, Unavailable, field_error
from starter.gateway.responses import CaseOpened
from starter.intake import missing_fields, received_at_problem, redact_request
from workflows.contracts import CaseRequest
from workflows.policy import SYNCHRONOUS_CHANNELS, Policy

# An apostrophe is fine (o'brien@…); a double quote or backslash would need escaping in visibility queries.
EMAIL = re.compile(r"[^@\s\"\\<>\x00-\x1f\x7f]+@[^@\s'\"\\<>\x00-\x1f\x7f]+")
EMAIL_LIMIT = 254
# Far below Temporal's 2 MB payload limit, which a pasted log in an email body could otherwise pass.
TEXT_LIMITS = {"subject": 1_000, "description": 100_000}


def admit(request: CaseRequest, policy: Policy, receipt_time: datetime) -> CaseRequest:
    """The request as it may open a case, or FieldErrors naming everything the sender must fix."""
    synchronous = request.channel in SYNCHRONOUS_CHANNELS
    if request.channel not in policy.intake.channels and synchronous:
        # Nothing else matters on a channel the tenant does not take. Asynchronous channels are
        # accepted; the workflow notes the unlisted channel in `opened`.
        raise field_error(
            "channel",
            f"{policy.tenant} does not take {request.channel} requests (it takes {', '.join(policy.intake.channels)})",
        )
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    if request.severity is not None and request.severity not in policy.severities and synchronous:
        known = ", ".join(str(level) for level in policy.severities)
        problems.append(("severity", f"{policy.tenant} has no severity {request.severity} (it has {known})"))
    if why := received_at_problem(request.received_at, receipt_time):
        if synchronous:
            problems.append(("received_at", why))
        else:
            request = request.model_copy(update={"received_at": receipt_time})
            notes.append(f"{why}; replaced by the receipt time")
    email = request.requester.email
    if email is not None and (len(email) > EMAIL_LIMIT or not EMAIL.fullmatch(email)):
        if synchronous:
            problems.append(("requester.email", "not an email address such as ana@clinic.example"))
        else:
            # Nobody is there to correct it: open the case without it, and let the case ask.
            request = request.model_copy(update={"requester": request.requester.model_copy(update={"email": None})})
            notes.append(f"requester email {email[:80]!r} is not an address we can write to; dropped")
    if synchronous:
        problems += [(field, f"required by the {policy.tenant} policy") for field in missing_fields(request, policy)]
    if problems:
        raise FieldErrors(problems)
    for name, limit in TEXT_LIMITS.items():
        text = getattr(request, name)
        if text is not None and len(text) > limit:
            request = request.model_copy(update={name: text[:limit] + "…"})
            notes.append(f"{name} cut from {len(text)} to {limit} characters")
    if notes:
        request = request.model_copy(update={"notes": [*request.notes, *notes]})
    return redact_request(request) if policy.intake.redact_phi else request


async def open_case(http: Request, request: CaseRequest) -> JSONResponse:
    """201 for a new case, 200 when this source id already opened one."""
    client = await http.app.state.temporal.client()
    try:
        opened = await start_case(client, request)
    except RPCError as problem:
        if problem.status == RPCStatusCode.INVALID_ARGUMENT:
            raise field_error("request", f"Temporal refused to start the case: {problem.message}") from None
        raise Unavailable(f"Temporal could not start the case: {problem.message}") from None
    body = CaseOpened(case_id=opened.case_id, status_url=status_url(http, opened.case_id), duplicate=opened.duplicate)
    return JSONResponse(body.model_dump(), status_code=200 if opened.duplicate else 201)


def status_url(http: Request, case_id: str) -> str:
    return str(http.url_for("case_status", case_id=case_id))
