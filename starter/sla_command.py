"""`supportflow sla`: the deadlines a case received at a given moment would get. No server needed."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

import tenant_policies
from workflows.sla import deadlines, target_due


class UsageError(ValueError):
    """A bad command-line value, said to the operator without a traceback."""


def aware(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not an ISO 8601 time like 2027-01-08T16:30:00-06:00") from None
    if moment.tzinfo is None:
        raise UsageError(f"{option}: {text!r} has no UTC offset; write it like 2027-01-08T16:30:00-06:00")
    return moment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--severity", type=int, required=True)
    parser.add_argument("--received-at", required=True, help="ISO 8601 with an offset")
    parser.add_argument("--emergency-at", help="when emergency escalation was requested (ISO 8601 with an offset)")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    received_at = aware(args.received_at, "--received-at")
    emergency_at = aware(args.emergency_at, "--emergency-at") if args.emergency_at else None
    try:
        loaded = tenant_policies.loaded_policy(args.tenant, received_at.year)
    except tenant_policies.UnknownTenant as unknown:
        raise UsageError(f"--tenant: {unknown}") from None
    policy = loaded.policy
    if args.severity not in policy.severities:
        known = ", ".join(str(level) for level in policy.severities)
        raise UsageError(f"--severity: {policy.tenant} has no severity {args.severity} (it has {known})")
    severity = policy.severity(args.severity)
    if emergency_at and not severity.emergency:
        raise UsageError(f"--emergency-at: severity {args.severity} ({severity.name}) has no emergency target")
    calendar = loaded.business_calendar()
    due = deadlines(severity, calendar, received_at.astimezone(calendar.tz), (), emergency_at)
    result = {
        "tenant": policy.tenant,
        "severity": args.severity,
        "severity_name": severity.name,
        "received_at": received_at.astimezone(calendar.tz).isoformat(),
        "response_due_at": due.response_due_at.isoformat(),
        "resolution_due_at": due.resolution_due_at.isoformat() if due.resolution_due_at else None,
        "emergency_requested_at": emergency_at.astimezone(calendar.tz).isoformat() if emergency_at else None,
        "emergency_due_at": due.emergency_due_at.isoformat() if due.emergency_due_at else None,
    }
    warnings = {
        f"{name}_warning_at": [target_due(target, calendar, start, (), f).isoformat() for f in policy.warn_at]
        for name, target, start in (
            ("response", severity.response, received_at),
            ("resolution", severity.resolution, received_at),
            ("emergency", severity.emergency, emergency_at),
        )
        if target and start
    }
    if args.json:
        print(json.dumps(result | warnings, indent=2))
        return 0
    print(f"{policy.display_name} · Sev{args.severity} {severity.name} · received {result['received_at']}")
    for label, key in (
        ("response due", "response_due_at"),
        ("resolution due", "resolution_due_at"),
        ("emergency due", "emergency_due_at"),
    ):
        if result[key]:
            print(f"  {label:<15} {result[key]}")
    for key, moments in warnings.items():
        print(f"  {key.replace('_', ' '):<15} {', '.join(moments)}")
    return 0
