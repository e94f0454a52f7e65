"""`supportflow policy apply FILE`: every open case of the file's tenant recomputes its clocks under it.

The file is read and its holidays expanded here, as the `load_policy`
activity would, so a case receives a `LoadedPolicy` it can use at once.
Cases are found through visibility, so one opened a moment ago may be
missed; running the command again is harmless (the update is idempotent
in effect, and each run records one `policy_applied`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from datetime import date

from starter import client as cases
from starter.commands.connection import connect_client, run
from starter.commands.status_view import tenant_zone, when
from starter.fleet import fleet_query, list_cases
from tenant_policies import PolicyError, expand_holidays, read_policy_file
from workflows.contracts import ApplyPolicy
from workflows.policy import years_around

CONCURRENT_UPDATES = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the policy file; its tenant's open cases receive it")
    parser.add_argument("--dry-run", action="store_true", help="only list the cases it would go to")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case, then the totals")


@dataclass
class Outcome:
    case_id: str
    outcome: str  # applied, rejected, would_apply
    reason: str | None = None
    response_due_at: str | None = None
    resolution_due_at: str | None = None


def apply(args: argparse.Namespace) -> int:
    try:
        policy = read_policy_file(args.file)
    except PolicyError as problem:
        print(problem, file=sys.stderr)
        return 2
    loaded = expand_holidays(policy, *years_around(date.today().year))
    return run("policy apply", lambda args: _apply(args, ApplyPolicy(policy=loaded)), args)


async def _apply(args: argparse.Namespace, update: ApplyPolicy) -> int:
    tenant = update.policy.policy.tenant
    client = await connect_client()
    open_cases = await list_cases(client, fleet_query(tenant=tenant))
    if args.dry_run:
        outcomes = [Outcome(case.case_id, "would_apply") for case in open_cases]
    else:
        gate = asyncio.Semaphore(CONCURRENT_UPDATES)

        async def one(case_id: str) -> Outcome:
            async with gate:
                try:
                    status = await cases.run_update(client, case_id, "apply_policy", update)
                except (cases.UpdateRejected, cases.CaseClosed) as refused:
                    return Outcome(case_id, "rejected", reason=refused.message)
            zone = tenant_zone(tenant)
            return Outcome(
                case_id,
                "applied",
                response_due_at=when(status.response_due_at, zone),
                resolution_due_at=when(status.resolution_due_at, zone),
            )

        outcomes = list(await asyncio.gather(*(one(case.case_id) for case in open_cases)))
    report(args, tenant, outcomes)
    return 1 if any(o.outcome == "rejected" for o in outcomes) else 0


def report(args: argparse.Namespace, tenant: str, outcomes: list[Outcome]) -> None:
    applied = [o for o in outcomes if o.outcome == "applied"]
    rejected = [o for o in outcomes if o.outcome == "rejected"]
    if args.json:
        for outcome in outcomes:
            print(json.dumps({k: v for k, v in asdict(outcome).items() if v is not None}))
        totals = {"tenant": tenant, "cases": len(outcomes), "applied": len(applied), "rejected": len(rejected)}
        print(json.dumps(totals | {"dry_run": True} if args.dry_run else totals))
        return
    for outcome in outcomes:
        if outcome.outcome == "applied":
            print(
                f"{outcome.case_id}: applied · response due {outcome.response_due_at} · resolution due {outcome.resolution_due_at}"
            )
        elif outcome.outcome == "rejected":
            print(f"{outcome.case_id}: rejected: {outcome.reason}")
        else:
            print(f"{outcome.case_id}: would apply")
    if not outcomes:
        print(f"no open {tenant} cases")
    elif args.dry_run:
        print(f"{tenant} ({args.file}): would apply to {len(outcomes)} open cases (dry run)")
    else:
        print(f"{tenant} ({args.file}): applied {len(applied)}, rejected {len(rejected)}")
        for outcome in rejected:
            print(f"  {outcome.case_id}: {outcome.reason}")
