"""The support website's form and the in-product Help button → `CaseRequest`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from starter.intake.text import blank_to_none, normalise_phone
from workflows.contracts import CaseRequest, Requester

_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"off", "false", "0", "no"}


class WebForm(BaseModel):
    """Form fields as browsers send them: strings, "" for an empty input, "on" for a ticked box."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    subject: str | None = None
    description: str = Field(min_length=1)
    severity: int | None = None
    company: str | None = None
    building: str | None = None
    phone: str | None = None
    time_critical: bool = False
    new_installation: bool = False
    source_id: str | None = None

    @field_validator("subject", "severity", "company", "building", "phone", "source_id", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("name", "email", "description", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("time_critical", "new_installation", mode="before")
    @classmethod
    def _checkbox(cls, value: object) -> object:
        if value is None:
            return False
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE or not word:
                return False
            raise ValueError(f"{value[:40]!r} is not a yes/no value (on, true, 1, yes / off, false, 0, no)")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, phone: str | None) -> str | None:
        # A person typed it: E.164 when it parses, their own words ("ext. 4") otherwise.
        if phone is None:
            return None
        try:
            return normalise_phone(phone)
        except ValueError:
            return phone


def web_request(
    form: WebForm, tenant: str, channel: Literal["web", "help_button"], receipt_time: datetime
) -> CaseRequest:
    return CaseRequest(
        tenant=tenant,
        channel=channel,
        requester=Requester(
            name=form.name, email=form.email, phone=form.phone, company=form.company, building=form.building
        ),
        subject=form.subject,
        description=form.description,
        severity=form.severity,
        time_critical=form.time_critical,
        new_installation=form.new_installation,
        received_at=receipt_time,
        source_id=form.source_id,
    )
