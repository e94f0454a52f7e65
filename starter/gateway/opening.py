"""Opening a case from a route: the tenant's policy read once, the request admitted, one `start_case`.

Bad input never half-starts anything: nothing reaches Temporal until the
request has passed `admit` (starter/admission.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse

import tenant_policies
from starter import client
from starter.admission import admit
from starter.gateway.errors import field_error
from starter.gateway.responses import CaseOpened
from workflows.contracts import CaseRequest
from workflows.policy import LoadedPolicy


def receipt_time() -> datetime:
    return datetime.now(UTC)


def policy_for(tenant: str | None, now: datetime) -> LoadedPolicy:
    """The tenant's policy, holidays expanded around `now`; an unknown tenant is a 422 naming `tenant`."""
    if not tenant:
        raise field_error("tenant", "required: name the tenant, for example ?tenant=blockit")
    return tenant_policies.loaded_policy(tenant, now.year)


async def open_case(http: Request, request: CaseRequest, policy: LoadedPolicy, now: datetime) -> JSONResponse:
    """201 for a new case, 200 when this source id already opened one."""
    admitted = admit(request, policy.policy, now)
    opened = await client.start_case(await http.app.state.temporal.client(), admitted, policy)
    body = CaseOpened(case_id=opened.case_id, status_url=status_url(http, opened.case_id), duplicate=opened.duplicate)
    return JSONResponse(body.model_dump(), status_code=200 if opened.duplicate else 201)


def status_url(http: Request, case_id: str) -> str:
    """The `case_status` route's URL, built directly: `url_for` searches every route, about 50 µs an open,
    and `URLPath.make_absolute_url` parses the base URL a second time. `base_url` always ends in '/'."""
    return f"{http.base_url}v1/cases/{quote(case_id, safe='')}"
