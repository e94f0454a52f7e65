"""`supportflow case list`: the fleet from visibility, as a table or a JSON array."""

from __future__ import annotations

import argparse
import json

from starter.commands.connection import CommandFailed, connect_client
from starter.commands.status_view import tenant_zone, when
from starter.fleet import STATES, CaseSummary, FilterError, fleet_query
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
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, metavar="N", help=f"at most N cases (default {DEFAULT_LIMIT})"
    )


async def list_cases(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandFailed("--limit: must be at least 1", 2)
    try:
        query = fleet_query(
            tenant=args.tenant,
            state=args.state,
            severity=args.severity,
            breached=args.breached,
            include_finished=args.all,
        )
    except FilterError as problem:
        raise CommandFailed(f"--{problem}", 2) from None
    cases = await fleet_cases(await connect_client(), query, limit=args.limit)
    if args.json:
        print(json.dumps([case.model_dump(mode="json") for case in cases], indent=2))
    elif not cases:
        print(f"no cases match {query}")
    else:
        print(table(cases))
    return 0


COLUMNS = ("CASE", "TENANT", "STATE", "SEV", "NEXT DUE", "BREACHED")


def table(cases: list[CaseSummary]) -> str:
    """Soonest deadline first; cases with none (resolved, paused) after."""
    ordered = sorted(
        cases, key=lambda case: (case.next_due_at is None, case.next_due_at or case.started_at, case.case_id)
    )
    rows = [COLUMNS] + [
        (
            case.case_id,
            case.tenant or "?",
            case.state or "?",
            str(case.severity) if case.severity is not None else "?",
            when(case.next_due_at, tenant_zone(case.tenant)) if case.next_due_at else "—",
            "yes" if case.sla_breached else "no",
        )
        for case in ordered
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )
