"""A call → `CaseRequest`: the voicemail a caller left, or the emergency call a rotation member answered.

Pure functions. `source_id` is the CallSid, so every callback about one call
(the recording, its transcription, a repeat of either) names the same case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from starter.intake.text import blank_to_none, is_https_url, normalise_phone, one_line
from workflows.contracts import CaseRequest, Requester
from workflows.policy import Channel, Policy

# A DialCallDuration longer than this is not believed (it would put received_at far back).
LONGEST_CALL = timedelta(hours=4)


class TwilioCall(BaseModel):
    """The form fields of Twilio's voice webhooks that the call flow reads (Twilio sends many more)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    call_sid: str = Field(alias="CallSid", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    caller: str = Field(default="", alias="From", max_length=64)
    digits: str = Field(default="", alias="Digits", max_length=32)
    dial_call_status: str = Field(default="", alias="DialCallStatus", max_length=32)
    dial_call_duration: int = Field(default=0, alias="DialCallDuration", ge=0)
    recording_url: str | None = Field(default=None, alias="RecordingUrl", max_length=2048)
    recording_duration: int | None = Field(default=None, alias="RecordingDuration")
    transcription_text: str | None = Field(default=None, alias="TranscriptionText", max_length=100_000)
    transcription_status: str | None = Field(default=None, alias="TranscriptionStatus", max_length=32)

    @field_validator("recording_url", "transcription_text", "transcription_status", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("dial_call_duration", "recording_duration", mode="before")
    @classmethod
    def _blank_is_zero(cls, value: object) -> object:
        return value or 0

    @property
    def callback_number(self) -> str | None:
        try:
            return normalise_phone(self.caller)
        except ValueError:
            return None

    @property
    def caller_said(self) -> str:
        """How to name the caller in a subject: the number, or what the network sent instead ("anonymous")."""
        return self.callback_number or one_line(self.caller) or "an unknown number"


def voicemail_request(policy: Policy, channel: Channel, call: TwilioCall, receipt_time: datetime) -> CaseRequest:
    """The case a recording opens. The description comes later, from Twilio's transcription (`amend`)."""
    notes: list[str] = []
    if call.callback_number is None:
        quoted = "" if policy.intake.redact_phi else f" {call.caller[:40]!r}"
        notes.append(f"caller id{quoted} is not a phone number; no number to call back")
    recording = call.recording_url
    if recording is not None and not is_https_url(recording):
        notes.append("the recording URL was not an https URL; it is left out")
        recording = None
    if call.recording_duration:
        notes.append(f"voicemail of {call.recording_duration} s; its transcription amends the description")
    what = "Emergency line voicemail" if channel == "emergency_line" else "Voicemail"
    return CaseRequest(
        tenant=policy.tenant,
        channel=channel,
        requester=Requester(phone=call.callback_number),
        subject=f"{what} from {call.caller_said}",
        received_at=receipt_time,
        source_id=call.call_sid,
        recording_url=recording,
        notes=notes,
    )


def answered_request(
    policy: Policy, channel: Channel, call: TwilioCall, member: str, receipt_time: datetime
) -> CaseRequest:
    """The case for a call a rotation member took live (Decision 9). Twilio reports it when the call ends,
    so the call began `DialCallDuration` seconds before the report."""
    talked = min(timedelta(seconds=call.dial_call_duration), LONGEST_CALL)
    contact = policy.contacts.get(member)
    who = contact.name if contact else member
    return CaseRequest(
        tenant=policy.tenant,
        channel=channel,
        requester=Requester(phone=call.callback_number),
        subject=f"Call from {call.caller_said}, answered by {who}",
        received_at=receipt_time - talked,
        source_id=call.call_sid,
        answered_by=member,
        notes=[f"answered live by {who}; the call lasted {int(talked.total_seconds())} s"],
    )
