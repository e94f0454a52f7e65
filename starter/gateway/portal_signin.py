"""`GET|POST /portal/sign-in?tenant=T` with `email`: a requester asks for a sign-in link (DESIGN Decision 7).

The page is the same whether or not the address has cases, and it answers
before anything is looked up: the lookup and the email happen afterwards, so
neither the words nor the time taken tell a stranger who is a customer. An
address with cases gets one link, sent through the same email delivery path
as every other message (`activities.deliver.send`; in outbox mode it lands in
the outbox). An address without cases gets nothing.

Rate limits (Decision 16): `SUPPORTFLOW_RATE_PORTAL_LINKS` requests per hour,
per email and per client IP (default 5; 0 turns it off), counted in this
gateway process with the `limits` library; over it, a 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from activities.channels.failures import DeliveryFailed
from activities.deliver import send
from environment import SettingsError
from starter.gateway.pages import message_page
from starter.gateway.portal_cases import newest_case
from starter.gateway.portal_pages import sign_in_page, when
from starter.gateway.portal_session import magic_link
from starter.gateway.portal_trouble import TROUBLE, trouble_page
from starter.gateway.settings import GatewaySettings
from starter.intake.addresses import LIMIT as EMAIL_LIMIT
from starter.intake.addresses import is_email_address
from starter.outbox.page import dev_banner
from tenant_policies import tenant_policy
from workflows.contracts import Delivery
from workflows.policy import Policy

router = APIRouter(include_in_schema=False)
log = logging.getLogger("supportflow.portal")
RATE_VARIABLE = "SUPPORTFLOW_RATE_PORTAL_LINKS"
DEFAULT_PER_HOUR = 5


class LinkLimit:
    """Sign-in requests per hour, per email and per IP; a request over either limit counts against neither."""

    def __init__(self, per_hour: int):
        self.item = RateLimitItemPerHour(per_hour) if per_hour else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LinkLimit:
        raw = (os.environ if env is None else env).get(RATE_VARIABLE, "").strip()
        if raw and not raw.isdigit():
            raise SettingsError(f"{RATE_VARIABLE}={raw!r}: expected a whole number per hour (0 turns it off)")
        return cls(int(raw) if raw else DEFAULT_PER_HOUR)

    def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds to wait when over a limit; None (and the request counted) otherwise."""
        if self.item is None:
            return None
        keys = (("email", email), ("ip", ip))
        for key in keys:
            if not self.limiter.test(self.item, "portal-link", *key):
                reset_at = self.limiter.get_window_stats(self.item, "portal-link", *key).reset_time
                return max(1, math.ceil(reset_at - time.time()))
        for key in keys:
            self.limiter.hit(self.item, "portal-link", *key)
        return None


@router.get("/portal/sign-in", response_class=HTMLResponse)
async def sign_in_form(
    http: Request,
    tenant: Annotated[str, Query(max_length=100)] = "",
    email: Annotated[str | None, Query(max_length=EMAIL_LIMIT + 66)] = None,
) -> Response:
    """The form; with `email`, the same as posting it."""
    return await _sign_in(http, tenant, email)


@router.post("/portal/sign-in", response_class=HTMLResponse)
async def sign_in(
    http: Request,
    tenant: Annotated[str, Query(max_length=100)] = "",
    email: Annotated[str, Form(max_length=EMAIL_LIMIT + 66)] = "",
) -> Response:
    return await _sign_in(http, tenant, email)


async def _sign_in(http: Request, tenant: str, email: str | None) -> Response:
    try:
        policy = tenant_policy(tenant)
    except TROUBLE as trouble:
        return trouble_page(trouble)
    banner = dev_banner(http)
    if email is None:
        return sign_in_page(tenant, policy.display_name, banner=banner)
    address = email.strip().lower()
    if not is_email_address(address):
        return sign_in_page(tenant, policy.display_name, problem="enter one email address, like name@example.com")
    wait = _limit(http.app).retry_after(address, http.client.host if http.client else "")
    if wait is not None:
        page = message_page(
            "Too many sign-in requests", f"Please wait {math.ceil(wait / 60)} minutes, then ask again.", 429
        )
        page.headers["Retry-After"] = str(wait)
        return page
    _in_background(http.app, send_sign_in_link(http.app, policy, address))
    return sign_in_page(tenant, policy.display_name, sent_to=address, banner=banner)


async def send_sign_in_link(app: FastAPI, policy: Policy, email: str) -> bool:
    """One link to an address with cases at this tenant; nothing to one without. True when a link was sent."""
    settings: GatewaySettings = app.state.settings
    try:
        case = await newest_case(await app.state.temporal.client(), policy.tenant, email)
    except TROUBLE as trouble:
        log.warning("portal sign-in: cases could not be looked up: %s", trouble.message)
        return False
    if case is None:
        return False
    url, expires_at = magic_link(settings, policy.tenant, email)
    run = time.time_ns() // 1_000_000  # each request is its own message
    delivery = Delivery(
        case_id=case.case_id,
        tenant=policy.tenant,
        ladder="portal_link",
        run=run,
        contact="requester",
        channel="email",
        address=email,
        case_channel=case.channel,
        subject=f"Your sign-in link for {policy.display_name}",
        message=(
            f"You asked to follow your requests with {policy.display_name}. Sign in here:\n{url}\n\n"
            f"The link works until {when(expires_at, policy.calendar.timezone)}. "
            "If you did not ask for it, you can ignore this email."
        ),
        idempotency_key=f"{case.case_id}:portal_link:{run}:0:0:requester:email",
    )
    try:
        await send(delivery, None, settings.delivery)
    except DeliveryFailed as failure:
        log.warning("portal sign-in: the link to a requester of %s was not sent: %s", case.case_id, failure.error)
        return False
    return True


def _limit(app: FastAPI) -> LinkLimit:
    limit = getattr(app.state, "portal_link_limit", None)
    if limit is None:
        limit = app.state.portal_link_limit = LinkLimit.from_env()
    return limit


def _in_background(app: FastAPI, work) -> None:
    """Keep a reference until it finishes: the event loop holds tasks only weakly."""
    tasks: set[asyncio.Task] = getattr(app.state, "portal_sign_ins", None) or set()
    app.state.portal_sign_ins = tasks
    task = asyncio.create_task(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
