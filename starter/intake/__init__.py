"""Intake adapters: each turns one system's payload into a `CaseRequest`. Pure functions, no I/O."""

from starter.intake.chat import ChatIntake, chat_request
from starter.intake.email import Attachment, EmailIntake, case_id_from_message_id, parse_email
from starter.intake.errors import IntakeError
from starter.intake.phi import redact, redact_request
from starter.intake.voicemail import VoicemailIntake, voicemail_channel, voicemail_request
from starter.intake.web import WebForm, web_request

__all__ = [
    "Attachment",
    "ChatIntake",
    "EmailIntake",
    "IntakeError",
    "VoicemailIntake",
    "WebForm",
    "case_id_from_message_id",
    "chat_request",
    "parse_email",
    "redact",
    "redact_request",
    "voicemail_channel",
    "voicemail_request",
    "web_request",
]
