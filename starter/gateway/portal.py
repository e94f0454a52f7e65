"""The requester portal: a magic link opens a session that sees only that requester's own cases.

A case that is not theirs answers 404, exactly like a case that does not
exist, so the portal never confirms another requester's case id. Asking to
escalate is portal_escalation.py; asking for a sign-in link by email is
portal_signin.py. No internal error reaches a requester (portal_trouble.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import signed_links as signing
from starter import client as cases
from starter.gateway import portal_escalation, portal_signin
from starter.gateway.auth import ADMIN
from starter.gateway.pages import message_page
from starter.gateway.portal_cases import own_case, own_cases
from starter.gateway.portal_escalation import render_case
from starter.gateway.portal_pages import cases_page
from starter.gateway.portal_session import current_session, magic_link, start_session
from starter.gateway.portal_trouble import TROUBLE, not_found, signed_out, trouble_page
from starter.gateway.responses import ErrorBody, FieldErrorBody, PortalLink, PortalLinkRequest
from starter.outbox.page import dev_banner
from tenant_policies import tenant_policy

links = APIRouter(tags=["portal"])
pages = APIRouter(tags=["portal"], include_in_schema=False)
pages.include_router(portal_escalation.router)
pages.include_router(portal_signin.router)


@links.post(
    "/v1/portal/links",
    response_model=PortalLink,
    dependencies=[ADMIN],
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": FieldErrorBody}},
)
async def create_link(body: PortalLinkRequest, http: Request) -> PortalLink:
    """A signed magic link (24 h) that signs `email` in to `tenant`'s portal."""
    tenant_policy(body.tenant)
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
        return signed_out()
    try:
        policy = tenant_policy(session.tenant)
        client = await http.app.state.temporal.client()
        cases = await own_cases(client, session.tenant, session.email)
    except TROUBLE as trouble:
        return trouble_page(trouble)
    return cases_page(session, policy.display_name, policy.calendar.timezone, cases, dev_banner(http))


@pages.get("/portal/cases/{case_id}", response_class=HTMLResponse)
async def one_case(case_id: str, http: Request) -> Response:
    session = current_session(http)
    if session is None:
        return signed_out()
    try:
        policy = tenant_policy(session.tenant)
        case = await own_case(await http.app.state.temporal.client(), session.tenant, session.email, case_id)
    except cases.CaseNotFound:
        return not_found()
    except TROUBLE as trouble:
        return trouble_page(trouble)
    return render_case(http, session, policy, case)
