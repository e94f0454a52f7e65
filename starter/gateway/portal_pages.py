"""The requester portal's pages: their cases, one case with its timeline, and "Ask to escalate"."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

from starter.gateway.pages import page
from starter.gateway.portal_session import Session
from workflows.contracts import CaseStatus, TimelineEntry

FINISHED = ("resolved", "closed")
# Paging mechanics name staff contacts and delivery channels; the requester sees what happened to their case.
INTERNAL_EVENTS = frozenset(
    {"notification_sent", "notification_failed", "step_started", "step_skipped", "ladder_started", "ladder_ended"}
)
EVENT_LABELS = {
    "opened": "Case opened",
    "acknowledgement_sent": "Acknowledgement sent to you",
    "missing_requested": "We asked you for details",
    "phi_redacted": "Health information removed from your request",
    "comment": "Comment",
    "warning": "Deadline approaching",
    "breach": "Deadline missed",
    "acknowledged": "An engineer acknowledged the escalation",
    "responded": "Support responded",
    "assigned": "Assigned to an engineer",
    "severity_changed": "Severity changed",
    "paused": "Waiting on you",
    "resumed": "Work resumed",
    "workaround_provided": "Workaround provided",
    "emergency_requested": "Emergency maintenance requested",
    "escalation_requested": "Escalation requested",
    "amended": "Details updated",
    "resolved": "Resolved",
    "reopened": "Reopened",
    "closed": "Closed",
    "policy_applied": "Support policy updated",
}
SHOWN_DETAIL = ("text", "message", "resolution", "description", "reason", "target")


def when(moment: datetime | None, zone: str) -> str:
    """`Mon 11 Jan 09:30 CST`, in the tenant's time zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z") if moment else "—"


def header(session: Session, display_name: str) -> str:
    return f'<p class=muted>{escape(display_name)} · signed in as {escape(session.email)} · <a href="/portal">your cases</a></p>'


def cases_page(session: Session, display_name: str, zone: str, cases: list[CaseStatus]) -> HTMLResponse:
    rows = "".join(
        f'<tr><td><a href="/portal/cases/{escape(c.case_id)}">{escape(c.subject or "(no subject)")}</a>'
        f"<div class=muted>{escape(c.case_id)}</div></td><td>{_state(c)}</td><td>{escape(c.severity_name)}</td>"
        f"<td class=t>{when(c.next_due_at, zone)}</td><td class=t>{when(c.response_due_at, zone)}</td>"
        f"<td class=t>{when(c.resolution_due_at, zone)}</td></tr>"
        for c in cases
    )
    table = (
        "<table><thead><tr><th>Subject</th><th>State</th><th>Severity</th><th>Next deadline</th>"
        f"<th>Response due</th><th>Resolution due</th></tr></thead><tbody>{rows}</tbody></table>"
        if cases
        else "<p>You have no cases with us yet.</p>"
    )
    body = f"<h1>Your support cases</h1>{header(session, display_name)}<div class=card>{table}</div>"
    return page(f"Your cases — {display_name}", body)


def case_page(
    session: Session,
    display_name: str,
    zone: str,
    case: CaseStatus,
    csrf: str,
    notice: tuple[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    facts = [
        ("State", _state(case)),
        ("Severity", escape(f"{case.severity_name} (Sev{case.severity})")),
        ("Received", when(case.received_at, zone)),
        ("Next deadline", when(case.next_due_at, zone)),
        ("Response due", when(case.response_due_at, zone)),
        ("Responded", when(case.responded_at, zone)),
        ("Resolution due", when(case.resolution_due_at, zone)),
        ("Resolved", when(case.resolved_at, zone)),
    ]
    if case.missing:
        facts.append(("We still need", escape(", ".join(case.missing))))
    facts_html = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in facts)
    notice_html = f"<div class=card><p class={notice[0]}>{escape(notice[1])}</p></div>" if notice else ""
    body = (
        f"<h1>{escape(case.subject or '(no subject)')}</h1>{header(session, display_name)}"
        f"<p class=muted>{escape(case.case_id)}</p>{notice_html}<div class=card><table>{facts_html}</table></div>"
        f"{_escalate_form(case, csrf)}<h2>Timeline</h2><div class=card>{_timeline(case.timeline, zone)}</div>"
    )
    return page(f"{case.subject or case.case_id} — {display_name}", body, status_code)


def _state(case: CaseStatus) -> str:
    breached = " breach" if case.breaches else ""
    label = case.state.replace("_", " ") + (" · deadline missed" if case.breaches else "")
    return f"<span class='state{breached}'>{escape(label)}</span>"


def _escalate_form(case: CaseStatus, csrf: str) -> str:
    if case.state in FINISHED:
        return ""
    return (
        f'<h2>Ask to escalate</h2><div class=card><form method=post action="/portal/cases/{escape(case.case_id)}/escalate">'
        f'<input type=hidden name=csrf value="{escape(csrf)}">'
        "<label for=reason>Why does this need escalating?</label><textarea id=reason name=reason required maxlength=4000></textarea>"
        "<p><button type=submit>Ask to escalate</button></p></form></div>"
    )


def _timeline(entries: list[TimelineEntry], zone: str) -> str:
    rows = []
    for entry in entries:
        if entry.event in INTERNAL_EVENTS:
            continue
        detail = " · ".join(escape(str(entry.detail[key])) for key in SHOWN_DETAIL if entry.detail.get(key))
        label = escape(EVENT_LABELS.get(entry.event, entry.event.replace("_", " ")))
        rows.append(f"<tr><td class='muted t'>{when(entry.at, zone)}</td><td>{label}</td><td>{detail}</td></tr>")
    return f"<table><tbody>{''.join(rows)}</tbody></table>"
