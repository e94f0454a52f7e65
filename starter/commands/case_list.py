"""`supportflow case list`: the fleet from visibility, as a table or a JSON array."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import tzinfo

from starter.commands.connection import CommandFailed, connect_client
from starter.commands.status_view import when
from starter.fleet import STATES, CaseSummary, FilterError, fleet_query, requester_keys, zone_named
from starter.fleet import list_cases as fleet_cases

DEFAULT_LIMIT = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="only this tenant's cases")
    parser.add_argument("--state", choices=STATES, help="only cases in this state (closed implies --all)")
    parser.add_argument("--severity", type=int, metavar="N", help="only cases of this severity")
    breached = parser.add_mutually_exclusive_group()
    breached.add_argument(
        "--breached", dest="breached", action="store_const", const=True, help="only cases with a breached SLA"
    )
    breached.add_argument(
        "--not-breached", dest="breached", action="store_const", const=False, help="only cases without one"
    )
    parser.add_argument("--all", action="store_true", help="include finished (closed) cases, not only running ones")
    parser.add_argument("--requester", metavar="EMAIL", help="only this requester's cases")
    parser.add_argument("--tz", metavar="ZONE", help="show times in this zone (default: the tenant's, else UTC)")
    parser.add_argument("--csv", action="store_true", help="print CSV for a spreadsheet")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, metavar="N", help=f"at most N cases (default {DEFAULT_LIMIT})"
    )


async def list_cases(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandFailed("--limit: must be at least 1", 2)
    client = await connect_client()
    try:
        zone = zone_named(args.tz, args.tenant)
        requesters = requester_keys(client, args.requester) if args.requester is not None else None
        query = fleet_query(
            tenant=args.tenant,
            state=args.state,
            severity=args.severity,
            breached=args.breached,
            requester=requesters,
            include_finished=args.all,
        )
    except FilterError as problem:
        raise CommandFailed(f"--{problem}", 2) from None
    cases = await fleet_cases(client, query, limit=args.limit, zone=zone)
    if args.json:
        print(json.dumps([case.model_dump(mode="json") for case in cases], indent=2))
    elif args.csv:
        print(as_csv(cases), end="")
    elif not cases:
        print(f"no cases match {query}")
    else:
        print(table(cases, zone))
    return 0


COLUMNS = ("CASE", "SUBJECT", "SEV", "STATE", "ASSIGNEE", "NEXT DUE", "BREACHED")
SUBJECT_WIDTH = 40


def rows(cases: list[CaseSummary], zone: tzinfo) -> list[tuple[str, ...]]:
    """One row per case, soonest deadline first (as `list_cases` sorted them), times in `zone`."""
    return [
        (
            case.case_id,
            case.subject or "",
            str(case.severity) if case.severity is not None else "?",
            case.state or "?",
            case.assignee or "",
            when(case.next_due_at, zone) if case.next_due_at else "",
            "yes" if case.sla_breached else "no",
        )
        for case in cases
    ]


def table(cases: list[CaseSummary], zone: tzinfo) -> str:
    shown = [(case_id, shortened(subject), *rest) for case_id, subject, *rest in rows(cases, zone)]
    shown = [COLUMNS, *((*row[:5], row[5] or "—", row[6]) for row in shown)]
    widths = [max(len(row[i]) for row in shown) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in shown
    )


def as_csv(cases: list[CaseSummary]) -> str:
    """Every case in full, times as RFC 3339 in the list's zone: for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["case_id", "subject", "severity", "state", "assignee", "next_due_at", "breached"])
    for case in cases:
        due = case.next_due_at.isoformat() if case.next_due_at else ""
        writer.writerow(
            [
                case.case_id,
                case.subject or "",
                case.severity,
                case.state,
                case.assignee or "",
                due,
                bool(case.sla_breached),
            ]
        )
    return out.getvalue()


def shortened(text: str) -> str:
    return text if len(text) <= SUBJECT_WIDTH else text[: SUBJECT_WIDTH - 1] + "…"
