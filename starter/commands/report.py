"""`supportflow report sla --tenant T --from DATE --to DATE [--json|--csv]`: did we keep our promises?

Reads the case archive (SUPPORTFLOW_ARCHIVE_URL); open cases are counted with
their live status, asked of Temporal. A readable table by default; `--json`
prints the contract's JSON (docs/contracts.md), `--csv` one row per severity
and target.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from datetime import UTC, datetime

from archive.live import with_live_status
from archive.report import sla_report
from archive.store import Archive, ArchiveError, ArchiveUrlError
from starter.commands.connection import CommandFailed, connect_client, run
from starter.records import FieldProblem, archived_in, date_range, tenant_policy, with_holidays
from workflows.contracts import SlaReport, TargetFigures

COLUMNS = (
    "severity",
    "name",
    "target",
    "cases",
    "met",
    "breached",
    "pending",
    "met_pct",
    "median_minutes",
    "p90_minutes",
)


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    sla = commands.add_parser("sla", help="met, breached and pending per severity and target, from the case archive")
    sla.add_argument("--tenant", required=True)
    sla.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day received (tenant's zone)")
    sla.add_argument("--to", dest="end", required=True, metavar="DATE", help="the day after the last (exclusive)")
    output = sla.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="the report's JSON")
    output.add_argument("--csv", action="store_true", help="one row per severity and target")
    sla.set_defaults(run=lambda args: run("report sla", report_sla, args))


def open_archive() -> Archive:
    try:
        return Archive.from_env()
    except ArchiveUrlError as problem:
        raise CommandFailed(str(problem), 2) from None


async def live_client(open_cases: int):
    """Temporal, only when there are open cases to ask; None (with a warning) when it cannot be reached."""
    if not open_cases:
        return None
    try:
        return await connect_client()
    except CommandFailed as problem:
        print(
            f"supportflow: warning: {open_cases} open cases are counted from their archived opening row: {problem}",
            file=sys.stderr,
        )
        return None


async def gather(tenant: str, start_text: str, end_text: str):
    """The tenant's policy (holidays expanded) and its cases in the range, open ones live. Bad input exits 2."""
    try:
        start, end = date_range(start_text, end_text)
        policy = tenant_policy(tenant)
    except FieldProblem as problem:
        raise CommandFailed(f"--{problem.field}: {problem.problem}", 2) from None
    loaded = with_holidays(policy, start, end)
    archive = open_archive()
    zone = policy.calendar.timezone
    try:
        archived = await asyncio.to_thread(archived_in, archive, policy.tenant, start, end, zone)
    except ArchiveError as problem:
        raise CommandFailed(str(problem)) from None
    finally:
        archive.dispose()
    client = await live_client(sum(1 for status in archived if status.state != "closed"))
    statuses = await with_live_status(archived, client)
    if client and statuses.stale:
        case_id, why = next(iter(statuses.stale.items()))
        print(
            f"supportflow: warning: {len(statuses.stale)} open cases did not answer and are counted from their "
            f"archived row ({case_id}: {why})",
            file=sys.stderr,
        )
    return loaded, start, end, statuses.cases


async def report_sla(args: argparse.Namespace) -> int:
    loaded, start, end, cases = await gather(args.tenant, args.start, args.end)
    report = sla_report(cases, loaded, start, end, datetime.now(UTC))
    if args.json:
        print(report.model_dump_json(indent=2))
    elif args.csv:
        print(as_csv(report), end="")
    else:
        print(as_table(report))
    return 0


def rows(report: SlaReport) -> list[tuple]:
    found: list[tuple] = []
    for block in report.severities:
        for target in ("response", "resolution", "emergency"):
            figures: TargetFigures | None = getattr(block, target)
            if figures is not None:
                found.append((block.severity, block.name, target, figures))
    for target in ("response", "resolution"):
        found.append(("total", "", target, getattr(report.total, target)))
    return found


def as_csv(report: SlaReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for severity, name, target, f in rows(report):
        writer.writerow(
            [severity, name, target, f.met + f.breached + f.pending, f.met, f.breached, f.pending]
            + ["" if v is None else v for v in (f.met_pct, f.median_minutes, f.p90_minutes)]
        )
    return out.getvalue()


def as_table(report: SlaReport) -> str:
    def cell(value: object) -> str:
        return "—" if value is None else str(value)

    header = ("severity", "target", "cases", "met", "breached", "pending", "met %", "median min", "p90 min")
    lines = [header]
    for severity, name, target, f in rows(report):
        label = f"{severity} {name}".strip()
        counts = (
            f.met + f.breached + f.pending,
            f.met,
            f.breached,
            f.pending,
            f.met_pct,
            f.median_minutes,
            f.p90_minutes,
        )
        lines.append((label, target, *map(cell, counts)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = [
        f"{report.tenant} SLA report · received {report.from_} to {report.to} (exclusive) · {report.timezone} · "
        f"{report.total.cases} cases"
    ]
    for line in lines:
        text.append(
            "  ".join(
                str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    text.append(f"breached ({len(report.breached)}): {', '.join(report.breached) or 'none'}")
    return "\n".join(text)
