"""Acting on cases: read one, list many, comment, and one route per contract update.

Each update route takes that update's own contract model as its body and
answers the new `CaseStatus`; a rejection is a 409 carrying the workflow's
sentence, an unknown case a 404. Free text bound for a tenant with
`redact_phi` is redacted here, before it reaches Temporal.
"""

# No `from __future__ import annotations`: FastAPI reads each generated route's body model from its annotation.
import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.service import RPCError, RPCStatusCode

from starter import client as cases
from starter.fleet import FilterError, fleet_query, requester_keys, soonest_first, summary, zone_named
from starter.gateway.auth import OPERATE, READ_ONE, require
from starter.gateway.errors import field_error
from starter.gateway.phi import redact_free_text
from starter.gateway.responses import CaseList, CommentAccepted, ErrorBody, FieldErrorBody, Responses
from starter.gateway.settings import ApiKey
from workflows.contracts import Actor, Amend, CaseStateName, CaseStatus, Comment
from workflows.updates import UPDATES, Update

router = APIRouter(tags=["cases"])
CaseId = Annotated[str, Path(description="case-<tenant>-<key>", max_length=200)]
ACTED: Responses = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody, "description": "No such case"},
    409: {
        "model": ErrorBody,
        "description": "Rejected: the sentence says which state the case is in, and what it needs",
    },
    422: {"model": FieldErrorBody},
}


@router.get(
    "/v1/cases/{case_id}", name="case_status", response_model=CaseStatus, responses=ACTED, dependencies=[READ_ONE]
)
async def case_status(case_id: CaseId, http: Request) -> CaseStatus:
    """The case's `status` query: state, clocks, escalation and timeline."""
    return await cases.case_status(await http.app.state.temporal.client(), case_id)


@router.post(
    "/v1/cases/{case_id}/comment",
    status_code=202,
    response_model=CommentAccepted,
    responses=ACTED,
)
async def comment(
    case_id: CaseId, body: Comment, http: Request, key: ApiKey = Depends(require("intake", "operate"))
) -> JSONResponse:
    """The `comment` signal. A comment by the requester resumes a case that is waiting on them."""
    client = await http.app.state.temporal.client()
    body = body.model_copy(update={"actor": Actor(kind="key", name=key.name)})
    await cases.send_comment(client, case_id, redact_free_text(case_id, body))
    return JSONResponse(CommentAccepted(case_id=case_id).model_dump(), status_code=202)


@router.get("/v1/cases", response_model=CaseList, responses=ACTED, dependencies=[OPERATE])
async def list_cases(
    http: Request,
    tenant: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)] = None,
    state: Annotated[
        CaseStateName | None, Query(description="closed lists finished cases; otherwise open ones")
    ] = None,
    severity: Annotated[int | None, Query(ge=0, le=1000)] = None,
    breached: bool | None = None,
    requester: Annotated[str | None, Query(max_length=254, description="only this requester's cases")] = None,
    tz: Annotated[
        str | None, Query(max_length=64, description="show times in this zone (default: the tenant's, else UTC)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> CaseList:
    """Cases by their search attributes, subject and assignee from the memo, soonest deadline first within a page
    (visibility is eventually consistent: a moment-old change may not show)."""
    client = await http.app.state.temporal.client()
    try:
        zone = zone_named(tz, tenant)
        requesters = requester_keys(client, requester) if requester is not None else None
        query = "WorkflowType = 'SupportCase' AND " + fleet_query(
            tenant=tenant, state=state, severity=severity, breached=breached, requester=requesters
        )
    except FilterError as problem:
        field, _, why = str(problem).partition(": ")
        raise field_error(field, why) from None
    token = _token_bytes(page_token)
    if token:
        await _check_token(client, query, token)
    pages = client.list_workflows(query, page_size=limit, next_page_token=token)
    await pages.fetch_next_page()
    token = pages.next_page_token
    rows = soonest_first([await summary(execution, zone) for execution in pages.current_page or []])
    return CaseList(
        cases=[row.model_dump(mode="json") for row in rows],
        next_page_token=base64.urlsafe_b64encode(token).decode() if token else None,
    )


async def _check_token(client, query: str, token: bytes) -> None:
    """A token we did not hand out makes some visibility stores fail with a retryable error; ask once, without retries."""
    request = ListWorkflowExecutionsRequest(namespace=client.namespace, page_size=1, next_page_token=token, query=query)
    try:
        await client.workflow_service.list_workflow_executions(request, retry=False)
    except RPCError as problem:
        if problem.status in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.UNKNOWN, RPCStatusCode.INTERNAL):
            raise field_error(
                "page_token", "not a token this listing returned (Temporal cannot continue from it)"
            ) from None
        raise


def _token_bytes(page_token: str | None) -> bytes | None:
    if not page_token:
        return None
    try:
        return base64.b64decode(page_token + "=" * (-len(page_token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise field_error("page_token", "not a token this gateway returned") from None


def _update_route(update: Update) -> None:
    model = update.model
    optional = all(not field.is_required() for field in model.model_fields.values())

    async def run(
        case_id: CaseId,
        http: Request,
        args: model = Body(default_factory=model) if optional else Body(),  # type: ignore[valid-type]
        key: ApiKey = Depends(require(update.scope)),
    ) -> CaseStatus:
        client = await http.app.state.temporal.client()
        # Who acted is who authenticated; the address's index is the gateway's to compute, never the caller's.
        args = args.model_copy(update={"actor": Actor(kind="key", name=key.name)})  # type: ignore[attr-defined]
        if isinstance(args, Amend):
            args = cases.with_requester_email_key(client, args)
        return await cases.run_update(client, case_id, update.name, redact_free_text(case_id, args))

    run.__name__ = f"update_{update.name}"
    router.add_api_route(
        f"/v1/cases/{{case_id}}/{update.name}",
        run,
        methods=["POST"],
        response_model=CaseStatus,
        responses=ACTED,
        summary=f"Update: {update.name}",
        description=f"Runs the `{update.name}` update ({update.help}); the body is its {model.__name__} model.",
    )


for _update in UPDATES:
    _update_route(_update)
