"""`POST /portal/cases/{id}/escalate`: the requester asks for what their tenant offers (portal_offers.py).

BluB0X: `request_escalation {reason, new_installation}`; blockit Sev 2: `request_emergency {reason}`. The
answer is always a page in the requester's words: a workflow's refusal or an unreachable Temporal is logged
for the support team and never shown as it was said.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from starter import client as cases
from starter.gateway.pages import message_page
from starter.gateway.phi import redact_free_text
from starter.gateway.portal_cases import own_case
from starter.gateway.portal_offers import EscalationOffer, already_asked, offer_for
from starter.gateway.portal_pages import case_page
from starter.gateway.portal_session import Session, current_session
from starter.gateway.portal_trouble import TROUBLE, not_found, signed_out, trouble_page
from starter.outbox.page import dev_banner
from tenant_policies import tenant_policy
from workflows.contracts import Actor, CaseStatus, RequestEmergency, RequestEscalation
from workflows.policy import Policy

router = APIRouter(include_in_schema=False)
log = logging.getLogger("supportflow.portal")
DONE = {
    "customer_escalation": "Escalation requested: the support team is being notified.",
    "emergency": "Emergency maintenance requested: the support team is being paged.",
}
REFUSED = (
    "We could not escalate this case just now. Your support team can still see it; please reply to your support email."
)


@router.post("/portal/cases/{case_id}/escalate", response_class=HTMLResponse)
async def escalate(
    case_id: str,
    http: Request,
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    new_installation: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    session = current_session(http)
    if session is None:
        return signed_out()
    try:
        policy = tenant_policy(session.tenant)
        client = await http.app.state.temporal.client()
        case = await own_case(client, session.tenant, session.email, case_id)
    except cases.CaseNotFound:
        return not_found()
    except TROUBLE as trouble:
        return trouble_page(trouble)
    if not session.csrf_ok(csrf, http.app.state.settings):
        return message_page("Please try again", "This form is out of date; reload the case and ask again.", 403)
    offer = offer_for(policy, case)
    if offer is None:
        return render_case(http, session, policy, case, ("error", "This case has no escalation option."), 409)
    if waiting := already_asked(offer, case):
        return render_case(http, session, policy, case, ("ok", waiting), 409)
    if not reason.strip():
        return render_case(http, session, policy, case, ("error", "Tell us why the case needs escalating."), 422)
    try:
        update, args = _update(offer, reason.strip(), new_installation)
        # Who acted: the case's own requester, signed in (their address stays out of the timeline).
        args = args.model_copy(update={"actor": Actor(kind="portal", name="requester")})
        case = await cases.run_update(client, case_id, update, redact_free_text(case_id, args))
    except (cases.UpdateRejected, cases.CaseClosed) as refused:
        log.warning("portal: %s refused on %s: %s", offer.kind, case_id, refused.message)
        return render_case(http, session, policy, case, ("error", REFUSED), 409)
    except TROUBLE as trouble:
        return trouble_page(trouble)
    return render_case(http, session, policy, case, ("ok", DONE[offer.kind]))


def _update(offer: EscalationOffer, reason: str, new_installation: str) -> tuple[str, BaseModel]:
    if offer.kind == "emergency":
        return "request_emergency", RequestEmergency(reason=reason)
    # Unchecked means "not said": the case keeps what it knows (a case opened as a new installation stays one).
    flag = True if new_installation.lower() in ("true", "on", "1", "yes") else None
    return "request_escalation", RequestEscalation(reason=reason, new_installation=flag)


def render_case(
    http: Request, session: Session, policy: Policy, case: CaseStatus, notice=None, status_code: int = 200
) -> Response:
    return case_page(
        session,
        policy.display_name,
        policy.calendar.timezone,
        case,
        session.csrf_token(http.app.state.settings),
        offer_for(policy, case),
        notice,
        status_code,
        dev_banner(http),
    )
