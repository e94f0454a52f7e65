"""Every JSON shape other systems rely on (DESIGN "contract"), in one place.

Intake systems, the gateway, the CLI, activities and the workflow all import
these models; nothing else writes the same field list again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from workflows.policy import Channel, DeliveryChannel, LadderName, LoadedPolicy, TargetName

CaseStateName = Literal["open", "responded", "waiting_on_customer", "workaround_provided", "resolved", "closed"]
LadderOutcome = Literal["acknowledged", "responded", "resolved", "exhausted", "superseded"]
TimelineEvent = Literal[
    "opened",
    "acknowledgement_sent",
    "missing_requested",
    "phi_redacted",
    "comment",
    "warning",
    "breach",
    "ladder_started",
    "step_started",
    "step_skipped",
    "notification_sent",
    "notification_failed",
    "acknowledged",
    "ladder_ended",
    "responded",
    "assigned",
    "severity_changed",
    "paused",
    "resumed",
    "workaround_provided",
    "emergency_requested",
    "escalation_requested",
    "amended",
    "resolved",
    "reopened",
    "closed",
    "policy_applied",
]
COMMENT_LIMIT = 4096
# ApplicationError types clients tell apart (starter/client.py), never by the wording of a message.
UPDATE_REJECTED = "UpdateRejected"
CASE_STILL_OPENING = "CaseStillOpening"


HTTPS_URL = r"^https://\S+$"  # a recording link the case keeps: https, one piece


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Requester(Contract):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    building: str | None = None


class CaseRequest(Contract):
    tenant: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    channel: Channel
    requester: Requester = Requester()
    subject: str | None = None
    description: str | None = None
    severity: int | None = None
    time_critical: bool = False
    new_installation: bool = False
    existing_case: str | None = None
    worked_with: str | None = None
    received_at: AwareDatetime | None = None
    source_id: str | None = None
    # Gateway findings the case records (never the redacted text itself).
    phi_redacted: bool = False
    notes: list[str] = []
    # With payload encryption on, the starter's `hmac:<hex>` of the address: what RequesterEmail indexes.
    requester_email_key: str | None = Field(default=None, pattern=r"^hmac:[0-9a-f]{64}$")
    # A voicemail's recording (Decision 14: its own field, https only).
    recording_url: str | None = Field(default=None, pattern=HTTPS_URL, max_length=2048)
    # The contact who answered a live-routed call (Decision 9): the case opens already responded by them.
    answered_by: str | None = Field(default=None, min_length=1, max_length=200)
    # Fields the gateway withheld (a PHI-like value in an address field, Decision 14): the case asks for them.
    withheld: list[str] = []


class TimelineEntry(Contract):
    at: datetime
    event: TimelineEvent
    detail: dict[str, Any] = {}


class Escalation(Contract):
    ladder: LadderName | None = None
    step: int = 0
    round: int = 0
    running: list[LadderName] = []
    acknowledged_by: str | None = None
    outcome: LadderOutcome | None = None


class CaseStatus(Contract):
    case_id: str
    tenant: str
    state: CaseStateName
    channel: Channel
    subject: str | None
    description: str | None = None
    requester: Requester
    assignee: str | None
    severity: int
    severity_name: str
    time_critical: bool
    new_installation: bool
    received_at: datetime
    response_due_at: datetime
    responded_at: datetime | None
    resolution_due_at: datetime | None
    resolved_at: datetime | None
    workaround_at: datetime | None
    emergency_requested_at: datetime | None
    emergency_due_at: datetime | None
    paused: bool
    breaches: list[TargetName]
    warnings: list[TargetName]
    missing: list[str]
    phi_redacted: bool
    escalation: Escalation
    timeline: list[TimelineEntry]
    # Extensions (additive): the next deadline the clocks are counting towards, and when each target was met.
    next_due_at: datetime | None = None
    closed_at: datetime | None = None
    resolution_met_at: datetime | None = None
    emergency_met_at: datetime | None = None
    recording_url: str | None = None


# --- update arguments ------------------------------------------------------


class Actor(Contract):
    """Who authenticated the change, set by the gateway or CLI beside the claimed `by`/`author`."""

    kind: Literal["key", "ack_link", "slack", "sms", "cli", "portal", "phone"]
    name: str = Field(min_length=1, max_length=200)


class UpdateArgs(Contract):
    actor: Actor | None = None


class Respond(UpdateArgs):
    by: str = Field(min_length=1)
    message: str | None = None


class Acknowledge(UpdateArgs):
    by: str = Field(min_length=1)


class Assign(UpdateArgs):
    to: str = Field(min_length=1)


class SetSeverity(UpdateArgs):
    severity: int
    reason: str | None = None


class Pause(UpdateArgs):
    reason: str | None = None


class Resume(UpdateArgs):
    pass


class ProvideWorkaround(UpdateArgs):
    by: str = Field(min_length=1)
    description: str = Field(min_length=1)
    kind: Literal["workaround", "data_correction"] = "workaround"


class RequestEscalation(UpdateArgs):
    reason: str = Field(min_length=1)
    new_installation: bool | None = None


class RequestEmergency(UpdateArgs):
    reason: str = Field(min_length=1)


class Amend(UpdateArgs):
    requester: Requester | None = None
    requester_email_key: str | None = Field(default=None, pattern=r"^hmac:[0-9a-f]{64}$")
    subject: str | None = None
    description: str | None = None
    time_critical: bool | None = None
    new_installation: bool | None = None
    existing_case: str | None = None
    worked_with: str | None = None


class Resolve(UpdateArgs):
    by: str = Field(min_length=1)
    resolution: str = Field(min_length=1)


class Reopen(UpdateArgs):
    reason: str = Field(min_length=1)


class Close(UpdateArgs):
    reason: str | None = None


class ApplyPolicy(UpdateArgs):
    """The new policy, holidays already expanded (the CLI and gateway load it)."""

    policy: LoadedPolicy


class Comment(Contract):
    author: str = Field(min_length=1)
    text: str
    actor: Actor | None = None
    # The sender's own id (an email's Message-ID): the same comment delivered twice is recorded once.
    source_id: str | None = Field(default=None, max_length=998)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a comment needs text")
        return text


# --- deliveries ---------------------------------------------------------------


class Delivery(Contract):
    """One message to one address over one channel; `idempotency_key` is stable across retries."""

    case_id: str
    tenant: str
    ladder: str
    run: int = 0
    step: int = 0
    round: int = 0
    contact: str
    channel: DeliveryChannel
    address: str
    case_channel: Channel
    subject: str
    message: str
    idempotency_key: str
    # What every page says (DESIGN "Every page says what is wrong"): channels compose their own text from these.
    severity: int | None = None
    severity_name: str | None = None
    due_at: datetime | None = None
    description: str | None = None
    callback_number: str | None = None
    recording_url: str | None = None


class DeliveryResult(Contract):
    attempts: int
    detail: str | None = None


class WebhookBody(Contract):
    """What a webhook or chat endpoint receives for one delivery."""

    case_id: str
    tenant: str
    ladder: str
    step: int
    round: int
    contact: str
    channel: DeliveryChannel
    case_channel: Channel
    subject: str
    message: str
    ack_url: str | None
    idempotency_key: str
    severity: int | None = None
    due_at: datetime | None = None
    description: str | None = Field(default=None, max_length=1000)


# --- case records and reports ---

Outcome = Literal["met", "breached", "pending", "none"]


class Report(BaseModel):
    """Report models accept `from` by its name: it is a Python keyword, so the field is `from_`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class TargetFigures(Report):
    """One target across a set of cases (DESIGN "SLA report", Decision 3)."""

    met: int = 0
    breached: int = 0
    pending: int = 0
    met_pct: float | None = None  # met / (met + breached) × 100, one decimal; null when both are 0
    median_minutes: float | None = None  # on the target's own clock, pause credit taken off resolution
    p90_minutes: float | None = None


class SeverityFigures(Report):
    severity: int
    name: str
    cases: int
    response: TargetFigures
    resolution: TargetFigures | None  # null: the severity has no such target
    emergency: TargetFigures | None


class TotalFigures(Report):
    cases: int
    response: TargetFigures
    resolution: TargetFigures


class SlaReport(Report):
    """`supportflow report sla --json` and `GET /v1/reports/sla`: cases received in [from, to), tenant's zone."""

    tenant: str
    from_: date = Field(alias="from")
    to: date
    timezone: str
    severities: list[SeverityFigures]
    total: TotalFigures
    breached: list[str]  # every case with any breach, by received_at then case_id


class SimulatedTarget(Report):
    severity: int
    target: TargetName
    cases: int
    recorded_breaches: int
    proposed_breaches: int


class OutcomeChange(Report):
    case_id: str
    target: TargetName
    recorded: Outcome
    proposed: Outcome


class WhatIf(Report):
    """`supportflow policy simulate FILE --json`: the archived cases' recorded moments under FILE's targets."""

    tenant: str
    from_: date = Field(alias="from")
    to: date
    targets: list[SimulatedTarget]
    changed: list[OutcomeChange]
