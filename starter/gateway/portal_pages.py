"""The requester portal's pages: their cases, one case with its timeline and what they may ask for, and sign-in.

Every page fits a phone: below 640 px the case table becomes one card per case (pages.py's stylesheet).
`banner` is the development note (starter/outbox/page.py) or nothing.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

from starter.gateway.pages import page
from starter.gateway.portal_offers import FINISHED, EscalationOffer, already_asked
from starter.gateway.portal_session import Session
from workflows.contracts import CaseStatus, TimelineEntry

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
ACKNOWLEDGE_SHORTLY = "We have your request and will acknowledge it shortly."
COLUMNS = ("Subject", "State", "Severity", "Next deadline", "Response due", "Resolution due")
COLUMN_CLASSES = ("subject", "", "", "t", "t", "t")


def when(moment: datetime | None, zone: str) -> str:
    """`Mon 11 Jan 09:30 CST`, in the tenant's time zone."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z") if moment else "—"


def header(session: Session, display_name: str) -> str:
    return f'<p class=muted>{escape(display_name)} · signed in as {escape(session.email)} · <a href="/portal">your cases</a></p>'


def cases_page(
    session: Session, display_name: str, zone: str, cases: list[CaseStatus], banner: str = ""
) -> HTMLResponse:
    heads = "".join(f"<th scope=col>{name}</th>" for name in COLUMNS)
    table = (
        f"<table class=cases><thead><tr>{heads}</tr></thead><tbody>{''.join(_row(c, zone) for c in cases)}</tbody></table>"
        if cases
        else "<p>You have no cases with us yet.</p>"
    )
    body = f"{banner}<h1>Your support cases</h1>{header(session, display_name)}<div class=card>{table}</div>"
    return page(f"Your cases — {display_name}", body)


def case_page(
    session: Session,
    display_name: str,
    zone: str,
    case: CaseStatus,
    csrf: str,
    offer: EscalationOffer | None,
    notice: tuple[str, str] | None = None,
    status_code: int = 200,
    banner: str = "",
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
    if case.emergency_due_at is not None:
        facts.append(("Emergency maintenance due", when(case.emergency_due_at, zone)))
    if case.missing:
        facts.append(("We still need", escape(", ".join(case.missing))))
    facts_html = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in facts)
    notices = [notice] if notice else []
    if _awaiting_acknowledgement(case):
        notices.append(("", ACKNOWLEDGE_SHORTLY))
    notice_html = "".join(f"<div class=card><p class='{tone}'>{escape(text)}</p></div>" for tone, text in notices)
    body = (
        f"{banner}<h1>{escape(case.subject or '(no subject)')}</h1>{header(session, display_name)}"
        f"<p class=muted>{escape(case.case_id)}</p>{notice_html}<div class=card><table>{facts_html}</table></div>"
        f"{_description(case)}{_escalation(offer, case, csrf)}"
        f"<h2>Timeline</h2><div class=card>{_timeline(case.timeline, zone)}</div>"
    )
    return page(f"{case.subject or case.case_id} — {display_name}", body, status_code)


def sign_in_page(
    tenant: str, display_name: str, *, sent_to: str | None = None, problem: str | None = None, banner: str = ""
) -> HTMLResponse:
    """The form, or the one answer every address gets, whether or not it has cases."""
    if sent_to is not None:
        body = (
            f"<p>If {escape(sent_to)} has requests with {escape(display_name)}, a sign-in link is on its way "
            "there. It works for 24 hours.</p><p class=muted>Nothing arrived? Check the address and ask again.</p>"
        )
    else:
        error = f"<p class=error id=email-problem>email: {escape(problem)}</p>" if problem else ""
        body = (
            f"<form method=post action='/portal/sign-in?tenant={escape(tenant)}'>"
            "<label for=email>Your email address</label>"
            "<input id=email name=email type=email required maxlength=254 autocomplete=email>"
            f"{error}<p><button type=submit>Email me a sign-in link</button></p></form>"
        )
    return page(
        f"Sign in — {display_name}",
        f"{banner}<h1>Follow your requests</h1><p class=muted>{escape(display_name)}</p><div class=card>{body}</div>",
        422 if problem else 200,
    )


def _row(case: CaseStatus, zone: str) -> str:
    waiting = f"<div class=muted>{ACKNOWLEDGE_SHORTLY}</div>" if _awaiting_acknowledgement(case) else ""
    cells = (
        f'<a href="/portal/cases/{escape(case.case_id)}">{escape(case.subject or "(no subject)")}</a>'
        f"<div class=muted>{escape(case.case_id)}</div>",
        _state(case) + waiting,
        escape(case.severity_name),
        when(case.next_due_at, zone),
        when(case.response_due_at, zone),
        when(case.resolution_due_at, zone),
    )
    tds = zip(COLUMNS, COLUMN_CLASSES, cells, strict=True)
    return "<tr>" + "".join(f"<td class='{css}' data-label='{name}'>{cell}</td>" for name, css, cell in tds) + "</tr>"


def _state(case: CaseStatus) -> str:
    breached = " breach" if case.breaches else ""
    label = case.state.replace("_", " ") + (" · deadline missed" if case.breaches else "")
    return f"<span class='state{breached}'>{escape(label)}</span>"


def _awaiting_acknowledgement(case: CaseStatus) -> bool:
    """Until our acknowledgement has actually reached them (the timeline says so), the portal says it is coming."""
    if case.state in FINISHED or case.responded_at is not None:
        return False
    return not any(entry.event == "acknowledgement_sent" for entry in case.timeline)


def _description(case: CaseStatus) -> str:
    text = getattr(case, "description", None)  # CaseStatus.description, additive in issue 13
    return f"<h2>Your request</h2><div class=card><p class=body>{escape(text)}</p></div>" if text else ""


def _escalation(offer: EscalationOffer | None, case: CaseStatus, csrf: str) -> str:
    """The one thing this tenant lets a requester ask for on this case, or nothing."""
    if offer is None:
        return ""
    title = "Ask to escalate" if offer.kind == "customer_escalation" else "Request emergency maintenance"
    waiting = already_asked(offer, case)
    if waiting:
        return f"<h2>{title}</h2><div class=card><p class=ok>{escape(waiting)}</p></div>"
    if offer.kind == "customer_escalation":
        ask = "Why does this need escalating?"
        checked = " checked" if case.new_installation else ""
        extra = (
            f"<p><label><input type=checkbox name=new_installation value=true{checked}> "
            "This is a new installation, or a property being configured</label></p>"
        )
    else:
        ask = f"Why does this need emergency maintenance? The support team then has {escape(offer.within)} to fix it."
        extra = ""
    return (
        f'<h2>{title}</h2><div class=card><form method=post action="/portal/cases/{escape(case.case_id)}/escalate">'
        f'<input type=hidden name=csrf value="{escape(csrf)}">'
        f"<label for=reason>{ask}</label><textarea id=reason name=reason required maxlength=4000></textarea>"
        f"{extra}<p><button type=submit>{title}</button></p></form></div>"
    )


def _timeline(entries: list[TimelineEntry], zone: str) -> str:
    rows = []
    for entry in entries:
        if entry.event in INTERNAL_EVENTS:
            continue
        detail = " · ".join(escape(str(entry.detail[key])) for key in SHOWN_DETAIL if entry.detail.get(key))
        label = escape(EVENT_LABELS.get(entry.event, entry.event.replace("_", " ")))
        rows.append(f"<tr><td class='muted t'>{when(entry.at, zone)}</td><td>{label}</td><td>{detail}</td></tr>")
    return f"<table class=timeline><tbody>{''.join(rows)}</tbody></table>"
