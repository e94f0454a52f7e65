"""A phone system's voicemail → `CaseRequest`. The extension picks the channel (BluB0X: 2 = phone, 6 = emergency line)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from starter.intake.text import blank_to_none, is_https_url, normalise_phone, one_line, stored_text, subject_from
from workflows.contracts import CaseRequest, Requester
from workflows.policy import Channel, Policy


class VoicemailIntake(BaseModel):
    """DESIGN's voicemail body: `{caller_number, caller_name?, transcription, recording_url?, extension?, received_at?}`."""

    model_config = ConfigDict(extra="forbid")

    caller_number: str = Field(max_length=64)
    caller_name: str | None = None
    transcription: str
    recording_url: str | None = None
    extension: str | None = Field(default=None, max_length=32)
    received_at: AwareDatetime | None = None

    @field_validator("caller_number")
    @classmethod
    def _phone(cls, number: str) -> str:
        """A withheld caller id ("anonymous", "restricted") is kept as said: the voicemail still opens a case."""
        try:
            return normalise_phone(number)
        except ValueError:
            return one_line(number).strip() or "unknown"

    @property
    def callback_number(self) -> str | None:
        try:
            return normalise_phone(self.caller_number)
        except ValueError:
            return None

    @field_validator("caller_name", "recording_url", "extension", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("extension", mode="before")
    @classmethod
    def _extension_as_text(cls, value: object) -> object:
        # Phone systems send 6 or "6"; a bool is neither.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("recording_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and (not url.startswith(("http://", "https://")) or len(one_line(url)) != len(url)):
            raise ValueError(f"{url[:200]!r} is not an http(s) URL")
        return url


def voicemail_channel(body: VoicemailIntake, policy: Policy) -> Channel:
    if body.extension is not None and body.extension in policy.intake.extensions:
        return policy.intake.extensions[body.extension]
    return "voicemail"


def voicemail_request(body: VoicemailIntake, policy: Policy, receipt_time: datetime) -> CaseRequest:
    """Never refuses: a night-time voicemail always opens a case, with any doubt recorded in `notes`
    (`admit` replaces a `received_at` the clock cannot start from)."""
    notes: list[str] = []
    # A tenant that takes no PHI gets no caller-typed value quoted back into its notes.
    quote = (lambda value: "") if policy.intake.redact_phi else (lambda value: f" {value!r}")
    if body.callback_number is None:
        notes.append(f"caller id{quote(body.caller_number)} is not a phone number; no number to call back")
    if body.extension is not None and body.extension not in policy.intake.extensions:
        notes.append(f"extension{quote(body.extension)} is not in the policy; opened as voicemail")
    transcription = stored_text(body.transcription).strip()
    recording_url = body.recording_url
    if recording_url is not None and not is_https_url(recording_url):
        notes.append("the recording URL is not an https URL; not kept")
        recording_url = None
    return CaseRequest(
        tenant=policy.tenant,
        channel=voicemail_channel(body, policy),
        requester=Requester(name=body.caller_name, phone=body.callback_number),
        subject=subject_from(transcription) or f"Voicemail from {body.caller_name or body.caller_number}",
        description=transcription or None,
        received_at=body.received_at or receipt_time,
        source_id=body.recording_url,
        recording_url=recording_url,
        notes=notes,
    )
