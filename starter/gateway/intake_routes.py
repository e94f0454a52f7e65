"""Opening cases: `POST /v1/cases` (any channel, CaseRequest JSON) and the per-system adapters.

Each route turns its payload into a `CaseRequest` with the pure adapters in
`starter/intake`, then `admit` checks it against the tenant's policy before
anything reaches Temporal.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse

from starter.gateway.auth import INTAKE, bearer, intake_key
from starter.gateway.direct_route import json_body, served_by
from starter.gateway.email_route import email_intake
from starter.gateway.errors import Forbidden
from starter.gateway.intake_rate import TOO_MANY, within_intake_rate
from starter.gateway.opening import open_case, policy_for, receipt_time
from starter.gateway.responses import CaseOpened, CommentAccepted, ErrorBody, FieldErrorBody, Responses
from starter.gateway.settings import ApiKey
from starter.intake import ChatIntake, VoicemailIntake, WebForm, chat_request, voicemail_request, web_request
from workflows.contracts import CaseRequest

router = APIRouter(tags=["intake"], dependencies=[INTAKE, Depends(within_intake_rate)])
OPENED: Responses = {
    200: {"model": CaseOpened, "description": "A case with this source id already exists (duplicate: true)"},
    201: {"model": CaseOpened, "description": "A new case"},
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    422: {"model": FieldErrorBody, "description": "A field the sender must fix, named"},
    **TOO_MANY,
}
Tenant = Annotated[str, Query(description="The tenant whose policy applies, e.g. blockit", max_length=100)]


async def open_from_json(request: CaseRequest, http: Request, key: ApiKey = INTAKE) -> JSONResponse:
    """Any channel; in-app messaging uses `channel: messaging`. The same `source_id` is the same case."""
    if not key.allows(request.tenant):
        raise Forbidden(f"this API key is not for tenant {request.tenant!r}")
    now = receipt_time()
    policy = policy_for(request.tenant, now)
    # What the gateway found (redaction, notes) and who answered a call are the gateway's to say, never the caller's.
    request = request.model_copy(update={"phi_redacted": False, "notes": [], "answered_by": None, "withheld": []})
    return await open_case(http, request, policy, now)


async def serve_open_from_json(http: Request) -> JSONResponse:
    """`open_from_json` with its dependencies run in their order (the key, the intake rate, the body), directly."""
    key = await intake_key(http, await bearer(http))
    await within_intake_rate(http, key)
    return await open_from_json(json_body(CaseRequest, http, await http.body()), http, key)


router.add_api_route(
    "/v1/cases",
    open_from_json,
    methods=["POST"],
    status_code=201,
    responses=OPENED,
    summary="Open a case from CaseRequest JSON",
    route_class_override=served_by(serve_open_from_json),
)


@router.post("/v1/intake/voicemail", status_code=201, responses=OPENED, summary="Open a case from a voicemail")
async def open_from_voicemail(body: VoicemailIntake, tenant: Tenant, http: Request) -> JSONResponse:
    """The policy's `intake.extensions` maps the extension to a channel (BluB0X: 6 → emergency_line).
    A voicemail is never turned away: missing details are listed in the case and asked for."""
    now = receipt_time()
    policy = policy_for(tenant, now)
    return await open_case(http, voicemail_request(body, policy.policy, now), policy, now)


@router.post("/v1/intake/chat", status_code=201, responses=OPENED, summary="Open a case from a chat conversation")
async def open_from_chat(body: ChatIntake, tenant: Tenant, http: Request) -> JSONResponse:
    """`source_id` is the conversation id, so a repeated hand-off is the same case."""
    now = receipt_time()
    return await open_case(http, chat_request(body, tenant, now), policy_for(tenant, now), now)


@router.post(
    "/v1/intake/web", status_code=201, responses=OPENED, summary="Open a case from the web form or Help button"
)
async def open_from_web_form(
    form: Annotated[WebForm, Form()],
    tenant: Tenant,
    http: Request,
    channel: Annotated[Literal["web", "help_button"], Query(description="help_button for an in-product form")] = "web",
) -> JSONResponse:
    now = receipt_time()
    return await open_case(http, web_request(form, tenant, channel, now), policy_for(tenant, now), now)


@router.post(
    "/v1/intake/email",
    status_code=201,
    responses=OPENED
    | {
        202: {"model": CommentAccepted, "description": "A reply threaded into its case as a comment"},
        413: {"model": ErrorBody},
        415: {"model": ErrorBody},
    },
    summary="Open a case from a raw email, or thread a reply into its case",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def open_from_email(tenant: Tenant, http: Request) -> JSONResponse:
    """The body is the whole RFC 5322 message, sent as `Content-Type: message/rfc822`. A reply whose
    In-Reply-To or References names one of our messages (or the message that opened a case) becomes a
    comment on that case (202); a reply to a closed case opens a new case with `existing_case` set."""
    return await email_intake(http, tenant, receipt_time())
