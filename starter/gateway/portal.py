"""The requester portal: a magic link opens a session that sees only that requester's own cases.

A case that is not theirs answers 404, exactly like a case that does not
exist, so the portal never confirms another requester's case id.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import Client

import signed_links as signing
import tenant_policies
from starter import client as cases
from starter.encryption import keyring_of, requester_email_keys
from starter.gateway.auth import ADMIN
from starter.gateway.errors import http_status
from starter.gateway.pages import message_page
from starter.gateway.phi import redact_free_text
from starter.gateway.portal_pages import case_page, cases_page
from starter.gateway.portal_session import Session, current_session, magic_link, start_session
from starter.gateway.responses import ErrorBody, FieldErrorBody, PortalLink, PortalLinkRequest
from workflows import search_attributes as sa
from workflows.contracts import Actor, CaseStatus, RequestEscalation
from workflows.policy import Policy

links = APIRouter(tags=["portal"])
pages = APIRouter(tags=["portal"], include_in_schema=False)
LISTED = 100


@links.post(
    "/v1/portal/links",
    response_model=PortalLink,
    dependencies=[ADMIN],
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": FieldErrorBody}},
)
async def create_link(body: PortalLinkRequest, http: Request) -> PortalLink:
    """A signed magic link (24 h) that signs `email` in to `tenant`'s portal."""
    tenant_policies.tenant_policy(body.tenant)
    url, expires_at = magic_link(http.app.state.settings, body.tenant, body.email)
    return PortalLink(url=url, expires_at=expires_at)


@pages.get("/portal/login")
async def login(http: Request, token: Annotated[str, Query(max_length=4096)] = "") -> Response:
    response = RedirectResponse("/portal", status_code=303)
    try:
        start_session(http.app.state.settings, token, response)
    except signing.TokenError as problem:
        status = 410 if isinstance(problem, signing.TokenExpired) else 400
        return message_page("This sign-in link does not work", f"{str(problem).capitalize()}.", status)
    return response


@pages.get("/portal", response_class=HTMLResponse)
async def your_cases(http: Request) -> Response:
    session = current_session(http)
    if session is None:
        return _signed_out()
    policy = tenant_policies.tenant_policy(session.tenant)
    client = await http.app.state.temporal.client()
    cases = await _own_cases(client, session)
    return cases_page(session, policy.display_name, policy.calendar.timezone, cases)


@pages.get("/portal/cases/{case_id}", response_class=HTMLResponse)
async def one_case(case_id: str, http: Request) -> Response:
    session = current_session(http)
    if session is None:
        return _signed_out()
    policy = tenant_policies.tenant_policy(session.tenant)
    try:
        case = await _own_case(await http.app.state.temporal.client(), session, case_id)
    except cases.CaseNotFound:
        return _not_found()
    return _case(http, session, policy, case)


@pages.post("/portal/cases/{case_id}/escalate", response_class=HTMLResponse)
async def escalate(
    case_id: str,
    http: Request,
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    session = current_session(http)
    if session is None:
        return _signed_out()
    policy = tenant_policies.tenant_policy(session.tenant)
    client = await http.app.state.temporal.client()
    try:
        case = await _own_case(client, session, case_id)
    except cases.CaseNotFound:
        return _not_found()
    if not session.csrf_ok(csrf, http.app.state.settings):
        return message_page("Please try again", "This form is out of date; reload the case and ask again.", 403)
    if not reason.strip():
        return _case(http, session, policy, case, ("error", "Tell us why the case needs escalating."), 422)
    try:
        escalation = RequestEscalation(reason=reason.strip(), actor=Actor(kind="portal", name=session.email))
        case = await cases.run_update(client, case_id, "request_escalation", redact_free_text(case_id, escalation))
    except (cases.UpdateRejected, cases.CaseClosed) as refused:
        return _case(http, session, policy, case, ("error", f"We could not escalate: {refused.message}"), 409)
    except cases.CaseError as trouble:
        notice = ("error", f"We could not escalate right now: {trouble.message}")
        return _case(http, session, policy, case, notice, http_status(trouble))
    return _case(http, session, policy, case, ("ok", "Escalation requested: the support team is being notified."))


async def _own_cases(client: Client, session: Session) -> list[CaseStatus]:
    if '"' in session.email or "\\" in session.email:  # never issued: links refuse such addresses
        return []
    quote = '"' if "'" in session.email else "'"  # o'brien@clinic.example
    # With encryption on, RequesterEmail holds the address's keyed hash, one per listed key (cases opened before
    # a rotation keep the older key's), and the address itself is never sent to Temporal.
    indexed = requester_email_keys(session.email, keyring_of(client)) or [session.email]
    query = (
        f"WorkflowType = 'SupportCase' AND {sa.CASE_TENANT.name} = '{session.tenant}' "
        f"AND {sa.REQUESTER_EMAIL.name} IN ({', '.join(f'{quote}{value}{quote}' for value in indexed)})"
    )
    ids = [execution.id async for execution in client.list_workflows(query, limit=LISTED)]
    found = await asyncio.gather(*(_own_case(client, session, case_id) for case_id in ids), return_exceptions=True)
    cases = [case for case in found if isinstance(case, CaseStatus)]
    return sorted(cases, key=lambda case: case.received_at, reverse=True)


async def _own_case(client: Client, session: Session, case_id: str) -> CaseStatus:
    """The case, only if it belongs to this session's tenant and requester; CaseNotFound otherwise."""
    if cases.tenant_of(case_id) != session.tenant:
        raise cases.CaseNotFound(case_id)
    try:
        case = await cases.case_status(client, case_id)
    except cases.CaseError:
        raise cases.CaseNotFound(case_id) from None
    if case.tenant != session.tenant or (case.requester.email or "").lower() != session.email:
        raise cases.CaseNotFound(case_id)
    return case


def _case(
    http: Request, session: Session, policy: Policy, case: CaseStatus, notice=None, status_code: int = 200
) -> Response:
    csrf = session.csrf_token(http.app.state.settings)
    return case_page(session, policy.display_name, policy.calendar.timezone, case, csrf, notice, status_code)


def _signed_out() -> Response:
    return message_page("Please sign in", "Open the sign-in link from your support email to see your cases.", 401)


def _not_found() -> Response:
    return message_page("Case not found", "There is no case with this id among your cases.", 404)
