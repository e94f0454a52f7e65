"""`create_app()`: the gateway's FastAPI application, wired from small routers.

Tests pass their own `client_factory` (a dev-server client) and `settings`;
`supportflow gateway` uses the environment for both.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from starter.client import connect
from starter.gateway import (
    ack,
    case_routes,
    codec,
    intake_routes,
    portal,
    report_routes,
    slack_routes,
    sms_routes,
    twilio_routes,
)
from starter.gateway.api_docs import install_docs
from starter.gateway.errors import install_error_handlers
from starter.gateway.headers import SecurityHeaders
from starter.gateway.intake_rate import IntakeRate
from starter.gateway.json_bodies import JsonBodyCheck
from starter.gateway.limits import BodyLimit
from starter.gateway.openapi import install_openapi
from starter.gateway.responses import Health
from starter.gateway.settings import GatewaySettings
from starter.gateway.temporal import ClientFactory, Temporal
from starter.gateway.unexpected import UnexpectedErrors
from starter.outbox import router as outbox_router

DESCRIPTION = """Support cases as durable Temporal workflows.

Every route but `/healthz`, the portal, `/v1/ack/{token}` and the codec login needs `Authorization: Bearer <key>`,
a key from `SUPPORTFLOW_API_KEYS` holding the route's scope: **intake** (open cases, comment, read one case),
**operate** (read everything, every update, the codec) or **admin** (everything, including portal links).
The codec routes also take the cookie `GET /codec/login` sets, for the Temporal web UI.

Errors are JSON `{"error": "..."}`; a 422 also lists `fields: [{field, problem}]`.
"""


def create_app(client_factory: ClientFactory = connect, settings: GatewaySettings | None = None) -> FastAPI:
    app = FastAPI(title="supportflow gateway", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.settings = settings or GatewaySettings.from_env()
    app.state.temporal = Temporal(client_factory)
    app.state.intake_rate = IntakeRate.from_env()
    install_error_handlers(app)
    install_docs(app)
    install_openapi(app)
    # Outermost last: an unexpected error anywhere is a JSON 500; every answer gets its security headers;
    # bodies are capped before they are read, and JSON bodies checked before any route parses them.
    app.add_middleware(JsonBodyCheck)
    app.add_middleware(BodyLimit)
    app.add_middleware(codec.CodecCors, origins=app.state.settings.ui_origins)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(UnexpectedErrors)
    codec.hide_credentials_in_access_log()
    for router in (intake_routes.router, case_routes.router, ack.router, portal.links, portal.pages, codec.router):
        app.include_router(router)
    app.include_router(outbox_router)  # the development outbox: live, its routes answer 404
    app.include_router(slack_routes.router)
    app.include_router(twilio_routes.router)
    app.include_router(sms_routes.router)
    app.include_router(report_routes.router)

    @app.get("/healthz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    async def healthz(http: Request) -> JSONResponse:
        """No key needed: 200 when Temporal answers its health check, 503 (saying why) when not."""
        problem = await http.app.state.temporal.reachable()
        if problem:
            return JSONResponse(Health(status="unavailable", temporal=problem).model_dump(), status_code=503)
        return JSONResponse(Health(status="ok", temporal="reachable").model_dump())

    return app
