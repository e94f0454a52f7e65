"""What a requester may ask for on a case, by tenant (DESIGN Decision 21, "Customer-facing escalation").

The portal offers what the tenant's policy offers: its `customer_escalation`
ladder when it has one (BluB0X, whose fourth step only a new installation or a
property being configured reaches), otherwise emergency maintenance when the
case's severity has an `emergency` target (blockit Sev 2, 48 h), otherwise
nothing. The server decides, never the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workflows.contracts import CaseStatus
from workflows.policy import Policy

FINISHED = ("resolved", "closed")
UNITS = {"m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True)
class EscalationOffer:
    kind: Literal["customer_escalation", "emergency"]
    within: str = ""  # emergency: the target, in words ("48 hours")


def offer_for(policy: Policy, case: CaseStatus) -> EscalationOffer | None:
    if case.state in FINISHED:
        return None
    if "customer_escalation" in policy.escalations:
        return EscalationOffer("customer_escalation")
    severity = policy.severities.get(case.severity)
    if severity is not None and severity.emergency is not None:
        return EscalationOffer("emergency", in_words(severity.emergency.within))
    return None


def already_asked(offer: EscalationOffer, case: CaseStatus) -> str | None:
    """Why the requester cannot ask again right now, in their words; None when they can."""
    if offer.kind == "customer_escalation" and "customer_escalation" in case.escalation.running:
        return "Your escalation is in progress: the support team is being notified, step by step."
    if offer.kind == "emergency" and case.emergency_requested_at is not None:
        return "Emergency maintenance has been requested for this case; the support team is on it."
    return None


def in_words(duration: str) -> str:
    """`48h` → `48 hours`."""
    amount, unit = int(duration[:-1]), UNITS[duration[-1]]
    return f"{amount} {unit}{'' if amount == 1 else 's'}"
