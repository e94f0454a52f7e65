"""Errors that speak to the person who can fix them: a 422 names the field, a 409 says why, a 404 says what.

Every error body is JSON `{"error": "..."}`; a 422 adds
`"fields": [{"field": "requester.email", "problem": "..."}]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from starter.admission import Refused
from starter.client import (
    CaseClosed,
    CaseError,
    CaseNotFound,
    CaseStillOpening,
    NoAnswer,
    TemporalUnavailable,
    UpdateRejected,
)
from starter.intake import IntakeError
from tenant_policies import PolicyError, UnknownTenant

# How each of the client layer's errors reads over HTTP.
CASE_ERROR_STATUS: dict[type[CaseError], int] = {
    CaseNotFound: 404,
    CaseClosed: 409,
    UpdateRejected: 409,
    CaseStillOpening: 503,
    TemporalUnavailable: 503,
    NoAnswer: 504,
}


class GatewayError(Exception):
    status = 500

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        self.message = message
        self.headers = headers
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class FieldErrors(GatewayError):
    """422: one or more fields the sender must fix."""

    status = 422

    def __init__(self, fields: Sequence[tuple[str, str]], message: str | None = None):
        self.fields = list(fields)
        summary = "; ".join(f"{field}: {problem}" for field, problem in self.fields)
        super().__init__(message or f"invalid request: {summary}")

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "fields": [{"field": f, "problem": p} for f, p in self.fields]}


def field_error(field: str, problem: str) -> FieldErrors:
    return FieldErrors([(field, problem)])


class Unauthorized(GatewayError):
    status = 401

    def __init__(self, message: str):
        super().__init__(message, {"WWW-Authenticate": "Bearer"})


class Forbidden(GatewayError):
    status = 403


class NotFound(GatewayError):
    """404 for what is not a case (a route's own resource, such as the outbox in live mode)."""

    status = 404


class Unavailable(GatewayError):
    """503: Temporal cannot be reached, or a tenant's policy file cannot be read."""

    status = 503


def problems_from(
    errors: Iterable[Mapping[str, Any]], drop: tuple[str, ...] = ("body", "query", "path", "header")
) -> list[tuple[str, str]]:
    """pydantic/FastAPI error dicts as (dotted field, problem); `body.requester.email` → `requester.email`."""
    found: list[tuple[str, str]] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in drop:
            loc = loc[1:]
        # A JSON body that does not parse is reported at a character position, not a field.
        if error.get("type") == "json_invalid":
            loc = ["body"]
        field = ".".join(loc) or "body"
        problem = _problem(error)
        if (field, problem) not in found:
            found.append((field, problem))
    return found


def _problem(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, error: GatewayError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return _unprocessable(FieldErrors(problems_from(error.errors())))

    @app.exception_handler(ValidationError)
    async def model_invalid(request: Request, error: ValidationError) -> JSONResponse:
        return _unprocessable(FieldErrors(problems_from(error.errors(), drop=())))

    @app.exception_handler(CaseError)
    async def case_error(request: Request, error: CaseError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=http_status(error))

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        return _unprocessable(FieldErrors(error.problems))

    @app.exception_handler(UnknownTenant)
    async def unknown_tenant(request: Request, error: UnknownTenant) -> JSONResponse:
        return _unprocessable(field_error("tenant", f"unknown tenant {error.tenant[:80]!r}"))

    @app.exception_handler(PolicyError)
    async def broken_policy(request: Request, error: PolicyError) -> JSONResponse:
        return JSONResponse({"error": f"the tenant's policy cannot be used: {error}"}, status_code=503)

    @app.exception_handler(IntakeError)
    async def intake_invalid(request: Request, error: IntakeError) -> JSONResponse:
        return _unprocessable(field_error(error.field, error.message))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            # Only FastAPI and Starlette raise these, when the body does not parse as the form it claims to be
            # (no multipart boundary): a field error like any other.
            detail = error.detail if isinstance(error.detail, str) else "it does not parse"
            return _unprocessable(field_error("body", f"cannot be read as the Content-Type it declares: {detail}"))
        detail = error.detail if isinstance(error.detail, str) else "request failed"
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse({"error": detail}, status_code=error.status_code, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path: Starlette's own 405 names only the first route it found,
    and `/v1/ack/{token}` (GET and POST) or `/v1/cases` (GET and POST) are two routes each."""
    allowed: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            allowed |= set(getattr(route, "methods", None) or ())
    return sorted(allowed)


def http_status(error: CaseError) -> int:
    return next(status for kind, status in CASE_ERROR_STATUS.items() if isinstance(error, kind))


def _unprocessable(error: FieldErrors) -> JSONResponse:
    return JSONResponse(error.body(), status_code=422)
