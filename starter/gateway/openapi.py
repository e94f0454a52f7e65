"""The OpenAPI document names every status code a route can answer, with the body it carries.

Routes document their own outcomes (201, 409, a 410 for an expired link).
What many routes share is added here, once, from what the route is:
- a 422 is always `FieldErrorBody` (FastAPI's default schema is not what
  `errors.py` sends);
- a route with a body can be sent one over the limit (413, `limits.py`);
- a route behind an API key can be refused one (401, 403);
- a route that reads a policy or reaches Temporal can find either
  unavailable (503), and one that waits on a case can wait in vain (504).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from starter.gateway.responses import ErrorBody, FieldErrorBody

# Tags whose routes read a tenant's policy or talk to Temporal, and those that wait for a case to answer.
UNAVAILABLE_TAGS = frozenset({"intake", "cases", "acknowledge", "reports", "portal"})
WAITING_TAGS = frozenset({"cases", "acknowledge", "reports"})
SHARED = {
    "401": "No API key, or not a valid one",
    "403": "The key lacks the route's scope, or is bound to another tenant",
    "413": "The request body is larger than the limit",
    "503": "Temporal, the case archive or the tenant's policy cannot be used right now; the body says which",
    "504": "The case did not answer in time (is a worker polling its task queue?)",
}


def form_body(fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    """`openapi_extra` for a webhook that reads its form itself (to check a signature over it first): the form
    documented, so clients and the schema fuzzer see what it takes. `fields` maps a name to its description."""
    properties = {name: {"type": "string", "description": said} for name, said in fields.items()}
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            document_shared_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_shared_errors(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, FieldErrorBody):
        components.setdefault(model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}"))
    error, fields = (_json(f"#/components/schemas/{name}") for name in ("ErrorBody", "FieldErrorBody"))
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            tags = set(operation.get("tags", ()))
            if "422" in responses:
                responses["422"]["content"] = fields
            if "requestBody" in operation:
                responses.setdefault("413", {"description": SHARED["413"], "content": error})
                responses.setdefault("422", {"description": "A field the sender must fix, named", "content": fields})
            shared = []
            if operation.get("security"):
                shared += ["401", "403"]
            if tags & UNAVAILABLE_TAGS:
                shared.append("503")
            if tags & WAITING_TAGS:
                shared.append("504")
            for status in shared:
                responses.setdefault(status, {"description": SHARED[status], "content": error})
    for unused in ("HTTPValidationError", "ValidationError"):
        if not _referenced(schema, f"#/components/schemas/{unused}"):
            components.pop(unused, None)


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ref}}}


def _referenced(schema: dict[str, Any], ref: str) -> bool:
    """Whether any path or other component still points at `ref`."""
    others = {k: v for k, v in schema["components"]["schemas"].items() if k != ref.rsplit("/", 1)[1]}
    return f'"{ref}"' in json.dumps([schema.get("paths", {}), others])
