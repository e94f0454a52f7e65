"""A route FastAPI documents from its endpoint's signature, served by a handler that skips dependency solving.

`POST /v1/cases` is the gateway's busiest route, and FastAPI's per-request
machinery (solving the key, rate and body dependencies, then the handler's
wrapping) was a fifth of the gateway's Python samples per open (py-spy);
served directly, the gateway's CPU per open fell by a tenth
(docs/benchmarks.md). The handler does the same checks in the same order:
the OpenAPI document, the status codes and the error bodies stay the same,
and `tests/test_gateway_direct_route.py` holds the two side by side.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from starter.gateway.errors import FieldErrors, problems_from
from starter.gateway.json_bodies import declares_json

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Model = TypeVar("Model", bound=BaseModel)


def served_by(handler: Handler) -> type[APIRoute]:
    """A route class for `add_api_route(..., route_class_override=...)`: documented as declared, served by `handler`."""

    class ServedDirectly(APIRoute):
        def get_route_handler(self) -> Handler:
            return handler

    return ServedDirectly


def json_body(model: type[Model], http: Request, body: bytes) -> Model:
    """The body as FastAPI reads a JSON body parameter: JSON only when the Content-Type says so (an
    empty body is missing, anything else is validated as it came), errors as a 422 naming the field."""
    if not body:
        raise FieldErrors([("body", "required field is missing")])
    try:
        content = json.loads(body) if declares_json(http.headers.get("content-type")) else body
        return model.model_validate(content, from_attributes=True)  # as FastAPI validates a body
    except json.JSONDecodeError as invalid:
        raise FieldErrors([("body", f"the body is not valid JSON ({invalid.msg})")]) from None
    except ValidationError as invalid:
        raise FieldErrors(problems_from(invalid.errors(), drop=())) from None
