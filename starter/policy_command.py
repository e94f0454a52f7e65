"""`supportflow policy check`: every problem in a policy file, named by file and field."""

from __future__ import annotations

import argparse
import sys

from tenant_policies import PolicyError, policy_dir, read_policy_file


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="policy files (default: every *.yaml in SUPPORTFLOW_POLICY_DIR)")


def check(args: argparse.Namespace) -> int:
    files = args.files or sorted(str(p) for p in policy_dir().glob("*.yaml"))
    if not files:
        print(f"no policy files in {policy_dir()}", file=sys.stderr)
        return 2
    failed = 0
    for file in files:
        try:
            policy = read_policy_file(file)
        except PolicyError as problem:
            failed += 1
            print(problem, file=sys.stderr)
            continue
        ladders = ", ".join(policy.escalations) or "none"
        print(
            f"{file}: ok · {policy.tenant} · {len(policy.severities)} severities · "
            f"{policy.calendar.timezone} · {len(policy.contacts)} contacts · ladders: {ladders}"
        )
    return 1 if failed else 0
