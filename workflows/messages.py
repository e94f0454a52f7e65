"""The words people receive: pages to engineers and notes to requesters.

Plain functions of the case, so the workflow stays a list of decisions.
"""

from __future__ import annotations

from datetime import datetime

from workflows.durations import format_duration
from workflows.state import CaseState

DESCRIPTION_IN_PAGES = 200
LADDER_TITLES = {
    "response_warning": "first response due soon",
    "response_breach": "first response overdue",
    "resolution_warning": "resolution due soon",
    "resolution_breach": "resolution overdue",
    "emergency_request": "emergency maintenance requested",
    "emergency_warning": "emergency maintenance due soon",
    "emergency_breach": "emergency maintenance overdue",
    "customer_escalation": "customer asked to escalate",
    "emergency_intake": "emergency line call",
    "requester_update": "the requester wrote",
}


def summary_line(case: CaseState) -> str:
    """`Sev1 · blockit · Scheduling page down`: how the web UI names a case."""
    return f"Sev{case.severity} · {case.policy.tenant} · {case.subject or '(no subject)'}"


def page_text(case: CaseState, ladder: str, step: int, round_: int, due: datetime | None) -> str:
    """What is wrong, so the person paged can act before opening anything: severity, subject, deadline,
    the start of the description, and how to reach the requester. The ack link is added by each channel."""
    title = LADDER_TITLES.get(ladder, ladder.replace("_", " "))
    parts = [
        f"[{case.policy.display_name}] {title}: {summary_line(case)} (case {case.case_id}).",
        f"Severity {case.severity} {case.level.name}, via {case.channel}.",
    ]
    if due is not None:
        parts.append(f"Due {due.astimezone(case_tz(case)).strftime('%a %d %b %H:%M %Z')}.")
    if case.description:
        parts.append(f"Problem: {shortened(' '.join(case.description.split()), DESCRIPTION_IN_PAGES)}")
    requester = ", ".join(v for v in (case.requester.name, case.requester.company) if v)
    if requester:
        parts.append(f"Requester: {requester}.")
    if case.requester.phone:
        parts.append(f"Call back: {case.requester.phone}.")
    if case.recording_url:
        parts.append(f"Recording: {case.recording_url}")
    parts.append(f"Step {step}" + (f", round {round_}" if round_ > 1 else "") + ". Acknowledge to stop paging.")
    return " ".join(parts)


def shortened(text: str | None, limit: int) -> str | None:
    """At most `limit` characters, an ellipsis marking a cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def acknowledgement_text(case: CaseState, response_due: datetime) -> str:
    lines = [
        f"We received your request and opened case {case.case_id}: {case.subject or '(no subject)'}.",
        f"Severity {case.severity} ({case.level.name}). You can expect a first response by "
        f"{response_due.astimezone(case_tz(case)).strftime('%a %d %b %Y %H:%M %Z')}.",
    ]
    if case.policy.intake.redact_phi:
        lines.append(
            "Please do not include protected health information (PHI) such as patient names, "
            "dates of birth or record numbers in support requests."
        )
    if case.phi_redacted:
        lines.append("We removed what looked like PHI from your request before storing it.")
    return "\n".join(lines)


def missing_fields_text(case: CaseState) -> str:
    wanted = ", ".join(field.replace("requester.", "your ").replace("_", " ") for field in case.missing)
    return f"To work on case {case.case_id} we still need: {wanted}. Please reply to this message with those details."


def reply_text(case: CaseState, message: str) -> str:
    return f"Update on case {case.case_id} ({case.subject or 'your request'}):\n\n{message}"


def case_tz(case: CaseState):
    from workflows.calendar import zone

    return zone(case.policy.calendar.timezone)


def clocks_markdown(case: CaseState, now: datetime) -> str:
    """`current_details` for the web UI: the clocks at a glance."""
    tz = case_tz(case)

    def clock(label: str, due: datetime | None, met: datetime | None, target: str) -> str:
        if due is None:
            return ""
        when = due.astimezone(tz).strftime("%a %d %b %H:%M %Z")
        if target in case.breaches:
            state = "**breached**"
        elif met:
            state = f"met {met.astimezone(tz).strftime('%a %d %b %H:%M')}"
        elif target == "resolution" and case.paused:
            state = "paused (waiting on customer)"
        else:
            state = f"in {format_duration(due - now)}" if due > now else "due now"
        return f"| {label} | {when} | {state} |\n"

    rows = (
        clock("First response", case.due_at("response"), case.responded_at, "response")
        + clock("Resolution", case.due_at("resolution"), case.resolution_met_at(), "resolution")
        + clock("Emergency", case.emergency_due_at, case.emergency_met_at, "emergency")
    )
    escalation = case.escalation
    ladder = (
        f"Escalation: **{escalation.ladder}** step {escalation.step}, round {escalation.round} "
        f"(running: {', '.join(escalation.running)})"
        if escalation.running
        else "Escalation: none running"
        + (f" (last: {escalation.ladder}, {escalation.outcome})" if escalation.ladder else "")
    )
    return (
        f"**{summary_line(case)}** — state `{case.state}`, assignee {case.assignee or 'nobody'}\n\n"
        f"| Clock | Due | Status |\n|---|---|---|\n{rows}\n{ladder}\n"
    )
