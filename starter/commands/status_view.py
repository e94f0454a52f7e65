"""A case's status as an operator reads it in a terminal: clocks in the tenant's time zone, then the recent timeline."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from workflows.contracts import CaseStatus, TimelineEntry

TIMELINE_SHOWN = 10
COMMENTS_SHOWN = 3
DESCRIPTION_WIDTH = 96
DESCRIPTION_LINES = 12
DETAIL_WIDTH = 100


@lru_cache(maxsize=32)
def tenant_zone(tenant: str) -> tzinfo | None:
    """The zone in the tenant's policy file here; None (keep the case's own offsets) when it cannot be read."""
    import tenant_policies

    try:
        return ZoneInfo(tenant_policies.tenant_policy(tenant).calendar.timezone)
    except (tenant_policies.PolicyError, tenant_policies.UnknownTenant, ValueError, KeyError):
        return None


def when(moment: datetime | None, zone: tzinfo | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone) if zone else moment
    return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def render(status: CaseStatus) -> str:
    zone = tenant_zone(status.tenant)
    requester = status.requester
    who = " · ".join(
        part
        for part in (
            requester.name,
            f"<{requester.email}>" if requester.email else None,
            requester.phone,
            requester.company,
            requester.building,
        )
        if part
    )
    lines = [
        f"{status.case_id}",
        f"  {status.subject or '(no subject)'}",
        f"  tenant     {status.tenant} · via {status.channel}",
        f"  state      {status.state}" + (" (paused)" if status.paused else ""),
        f"  severity   {status.severity} {status.severity_name}"
        + "".join(
            f" · {flag}"
            for flag, on in (("time critical", status.time_critical), ("new installation", status.new_installation))
            if on
        ),
        f"  requester  {who or '—'}",
        f"  assignee   {status.assignee or '—'}",
    ]
    if status.missing:
        lines.append(f"  missing    {', '.join(status.missing)}")
    if status.recording_url:
        lines.append(f"  recording  {status.recording_url}")
    if status.description:
        lines.append("  problem")
        lines += [f"    {line}" for line in textwrap.wrap(status.description, DESCRIPTION_WIDTH)[:DESCRIPTION_LINES]]
    lines.append(f"  clocks ({zone.key if isinstance(zone, ZoneInfo) else 'case time zone'})")
    lines.append(f"    received    {when(status.received_at, zone)}")
    lines += [f"    {name:<11} {text}" for name, text in clock_lines(status, zone)]
    lines.append(f"  breaches   {', '.join(status.breaches) or 'none'}")
    lines.append(f"  warnings   {', '.join(status.warnings) or 'none'}")
    lines.append(f"  escalation {escalation_line(status)}")
    comments = [entry for entry in status.timeline if entry.event == "comment"][-COMMENTS_SHOWN:]
    if comments:
        lines.append(f"  comments (last {len(comments)})")
        for entry in comments:
            lines.append(f"    {when(entry.at, zone)}  {entry.detail.get('author', '?')}:")
            lines += [
                f"      {line}" for line in textwrap.wrap(str(entry.detail.get("text", "")), DESCRIPTION_WIDTH)[:4]
            ]
    shown = status.timeline[-TIMELINE_SHOWN:]
    lines.append(f"  timeline (last {len(shown)} of {len(status.timeline)})")
    lines += [f"    {timeline_line(entry, zone)}" for entry in shown]
    return "\n".join(lines)


def clock_lines(status: CaseStatus, zone: tzinfo | None) -> list[tuple[str, str]]:
    def clock(target: str, due: datetime | None, met: datetime | None, met_word: str) -> str:
        parts = [f"due {when(due, zone)}"]
        if met is not None:
            parts.append(f"{met_word} {when(met, zone)}")
        if target in status.breaches:
            parts.append("BREACHED")
        elif target in status.warnings and met is None:
            parts.append("warned")
        return " · ".join(parts)

    lines = [("response", clock("response", status.response_due_at, status.responded_at, "responded"))]
    if status.resolution_due_at is not None or status.resolved_at is not None:
        resolution = clock("resolution", status.resolution_due_at, status.resolved_at, "resolved")
        if status.workaround_at is not None:
            resolution += f" · workaround {when(status.workaround_at, zone)}"
        if status.paused:
            resolution += " · paused (waiting on customer)"
        lines.append(("resolution", resolution))
    if status.emergency_requested_at is not None:
        emergency = f"requested {when(status.emergency_requested_at, zone)} · " + clock(
            "emergency", status.emergency_due_at, None, ""
        )
        lines.append(("emergency", emergency))
    if status.next_due_at is not None:
        lines.append(("next due", when(status.next_due_at, zone)))
    if status.closed_at is not None:
        lines.append(("closed", when(status.closed_at, zone)))
    return lines


def escalation_line(status: CaseStatus) -> str:
    escalation = status.escalation
    if escalation.ladder is None:
        return "none"
    parts: list[str] = [escalation.ladder]
    if escalation.running:
        parts.append(f"step {escalation.step}" + (f", round {escalation.round}" if escalation.round > 1 else ""))
        parts.append("running: " + ", ".join(escalation.running))
    if escalation.acknowledged_by:
        parts.append(f"acknowledged by {escalation.acknowledged_by}")
    if escalation.outcome:
        parts.append(f"outcome {escalation.outcome}")
    return " · ".join(parts)


def timeline_line(entry: TimelineEntry, zone: tzinfo | None) -> str:
    detail = ", ".join(
        f"{key}={_short(value)}" for key, value in entry.detail.items() if value not in (None, "", [], {})
    )
    if len(detail) > DETAIL_WIDTH:
        detail = detail[: DETAIL_WIDTH - 1] + "…"
    return f"{when(entry.at, zone)}  {entry.event:<20} {detail}".rstrip()


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"
