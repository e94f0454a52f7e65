"""A chat conversation handed to support → `CaseRequest`; the conversation id dedupes repeats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from starter.intake.text import blank_to_none, subject_from
from workflows.contracts import CaseRequest, Requester


class ChatIntake(BaseModel):
    """DESIGN's chat body: `{conversation_id, name?, email?, message, transcript?}`."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(min_length=1, max_length=512)
    name: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    message: str = Field(min_length=1)
    transcript: str | list[str] | None = None

    @field_validator("conversation_id", "message", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("name", "email", "transcript", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return blank_to_none(value)


def chat_request(body: ChatIntake, tenant: str, receipt_time: datetime) -> CaseRequest:
    transcript = "\n".join(body.transcript) if isinstance(body.transcript, list) else body.transcript
    description = (
        f"{body.message}\n\nTranscript:\n{transcript.strip()}" if transcript and transcript.strip() else body.message
    )
    return CaseRequest(
        tenant=tenant,
        channel="chat",
        requester=Requester(name=body.name, email=body.email),
        subject=subject_from(body.message),
        description=description,
        received_at=receipt_time,
        source_id=body.conversation_id,
    )
