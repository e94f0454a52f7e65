"""Reading the outbox (`GET /v1/outbox`, the `/outbox` page), the worker's attempt reports, and its lifetime.

The router's lifespan starts the outbox with the gateway when `SUPPORTFLOW_DELIVERY=outbox`: the store
(`SUPPORTFLOW_OUTBOX_FILE`, or memory) and the SMTP server (`SUPPORTFLOW_OUTBOX_SMTP_PORT`, or a free port).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' parameter types from their annotations.
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse

from activities.outbox import ATTEMPTS_PATH, AttemptReport
from starter.gateway.auth import OPERATE
from starter.gateway.responses import ErrorBody, FieldErrorBody
from starter.outbox import page, standins
from starter.outbox.models import OutboxMessage
from starter.outbox.smtp import listening_port, start_smtp
from starter.outbox.state import SMTP_HOST, Outbox, OutboxSettings, local_outbox, running_outbox
from starter.outbox.store import OutboxStore

log = logging.getLogger("supportflow.outbox")
CaseIdFilter = Annotated[
    str | None,
    Query(pattern=r"^case-[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=200, description="only this case's messages"),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many, newest first")]


@asynccontextmanager
async def outbox_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = OutboxSettings.from_env()
    app.state.outbox = None
    if not settings.enabled:
        yield
        return
    store = OutboxStore(settings.file)
    try:
        server = await start_smtp(store, settings.smtp_port)
    except OSError as problem:
        store.close()
        raise RuntimeError(
            f"the outbox's SMTP server cannot listen on {SMTP_HOST}:{settings.smtp_port} "
            f"(SUPPORTFLOW_OUTBOX_SMTP_PORT): {problem.strerror or problem}"
        ) from None
    app.state.outbox = Outbox(store, listening_port(server))  # type: ignore[arg-type]
    log.info(
        "outbox mode: messages are kept in %s; SMTP on %s:%d",
        settings.file or "memory",
        SMTP_HOST,
        app.state.outbox.smtp_port,
    )
    try:
        yield
    finally:
        app.state.outbox = None
        server.close()
        await server.wait_closed()
        store.close()


router = APIRouter(lifespan=outbox_lifespan)
router.include_router(standins.router)


@router.get(
    "/v1/outbox",
    response_model=list[OutboxMessage],
    tags=["outbox"],
    dependencies=[Depends(running_outbox), OPERATE],
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody, "description": "This gateway delivers live: there is no outbox"},
        422: {"model": FieldErrorBody},
    },
)
async def list_outbox(http: Request, case_id: CaseIdFilter = None, limit: Limit = 50) -> list[OutboxMessage]:
    """Outbox mode only (`supportflow up`): every message the system sent, newest first, once per idempotency
    key, with how its delivery went (`outcome`, `attempts`, `error`)."""
    return running_outbox(http).store.messages(case_id, limit)


@router.get("/outbox", response_class=HTMLResponse, include_in_schema=False)
async def outbox_page(
    http: Request, case_id: CaseIdFilter = None, limit: Limit = 100, outbox: Outbox = Depends(local_outbox)
) -> HTMLResponse:
    return page.outbox_page(outbox.store.messages(case_id, limit), case_id, outbox.smtp_port)


@router.post(ATTEMPTS_PATH, include_in_schema=False, status_code=204)
async def record_attempt(report: AttemptReport, outbox: Outbox = Depends(local_outbox)) -> None:
    """The worker's word on one delivery attempt (activities/outbox.py)."""
    outbox.store.report(report)
