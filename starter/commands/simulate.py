"""`supportflow policy simulate FILE --from DATE --to DATE [--json]`: what FILE would have done to those cases.

The archived cases of FILE's tenant received in the range (in the tenant's
zone, as the report counts them) are replayed under FILE's targets and
calendar (archive/whatif.py): per severity and target, the breaches recorded
against the breaches FILE would give, and every case whose outcome changes.
A FILE that fails `policy check`, an unknown tenant or a bad range exits 2.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from archive.whatif import simulate
from starter.commands.connection import CommandFailed, run
from starter.commands.report import gather
from starter.records import with_holidays
from tenant_policies import PolicyError, read_policy_file
from workflows.contracts import WhatIf


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the proposed policy file")
    parser.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day received")
    parser.add_argument("--to", dest="end", required=True, metavar="DATE", help="the day after the last (exclusive)")
    parser.add_argument("--json", action="store_true", help="the what-if's JSON")
    parser.set_defaults(run=lambda args: run("policy simulate", policy_simulate, args))


async def policy_simulate(args: argparse.Namespace) -> int:
    try:
        proposed = read_policy_file(args.file)
    except PolicyError as problem:
        raise CommandFailed(f"{args.file} fails policy check:\n{problem}", 2) from None
    current, start, end, cases = await gather(proposed.tenant, args.start, args.end)
    outcome = simulate(
        cases, with_holidays(proposed, start, end), start, end, current.policy.calendar.timezone, datetime.now(UTC)
    )
    print(outcome.model_dump_json(indent=2) if args.json else as_table(outcome, args.file))
    return 0


def as_table(outcome: WhatIf, file: str) -> str:
    lines = [f"{outcome.tenant} what-if · {file} · received {outcome.from_} to {outcome.to} (exclusive)"]
    header = ("severity", "target", "cases", "recorded breaches", "proposed breaches")
    table = [header] + [
        (str(t.severity), t.target, str(t.cases), str(t.recorded_breaches), str(t.proposed_breaches))
        for t in outcome.targets
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += [
        "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        for row in table
    ]
    lines.append(f"changed ({len(outcome.changed)}):" if outcome.changed else "changed: none")
    lines += [f"  {c.case_id}  {c.target}: {c.recorded} → {c.proposed}" for c in outcome.changed]
    return "\n".join(lines)
