"""The gateway's own JSON answers (DESIGN "Gateway"); requests and statuses are the contract models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from starter.intake.addresses import EmailAddress

# The OpenAPI answers a route documents beside its own: status code → {"model": …, "description": …}.
Responses = dict[int | str, dict[str, Any]]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseOpened(Answer):
    case_id: str
    status_url: str
    duplicate: bool


class CommentAccepted(Answer):
    case_id: str
    comment: bool = True


class CaseList(Answer):
    cases: list[dict] = Field(description="One row per case, from its search attributes (no workflow queries)")
    next_page_token: str | None = Field(None, description="Pass as page_token for the next page; null on the last")


class PortalLinkRequest(Answer):
    tenant: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    email: EmailAddress = Field(max_length=254, description="exactly one address, such as ana@clinic.example")


class PortalLink(Answer):
    url: str
    expires_at: datetime


class Health(Answer):
    status: str
    temporal: str


class ErrorBody(Answer):
    error: str


class FieldProblem(Answer):
    field: str
    problem: str


class FieldErrorBody(Answer):
    error: str
    fields: list[FieldProblem]
