"""The `supportflow` command. Each subcommand lives in its own module; this only wires them."""

from __future__ import annotations

import argparse
import sys

from starter import policy_command, sla_command
from starter.commands import case as case_command
from starter.commands import policy_apply
from tenant_policies import PolicyError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportflow", description="Support cases as durable Temporal workflows.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="dev server, worker and gateway on the embedded default")
    up.add_argument("--data-dir", default=".data", help="where the SQLite file and logs live")
    up.add_argument("--port", type=_port, default=7233, help="the Temporal gRPC port (default 7233)")
    up.add_argument("--ui-port", type=_port, default=8233, help="the Temporal web UI port (default 8233)")
    up.add_argument(
        "--gateway-port",
        type=_port,
        default=None,
        help="the gateway's port, which also serves the outbox (default 8000, or SUPPORTFLOW_GATEWAY_PORT)",
    )
    up.add_argument(
        "--demo", action="store_true", help="once up, open a few realistic cases for both seed tenants (idempotent)"
    )
    up.set_defaults(run=lambda args: _lazy("starter.up", "run")(args))

    worker = commands.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS")
    worker.set_defaults(run=lambda args: _lazy("worker", "main")())

    gateway = commands.add_parser("gateway", help="serve the HTTP gateway (intake, case routes, portal, ack links)")
    _lazy("starter.gateway.serve", "add_arguments")(gateway)
    gateway.set_defaults(run=lambda args: _lazy("starter.gateway.serve", "run")(args))

    sla = commands.add_parser("sla", help="the deadlines a case received at a given moment would get")
    sla_command.add_arguments(sla)
    sla.set_defaults(run=sla_command.run)

    policy = commands.add_parser("policy", help="check policy files, or apply one to its tenant's open cases")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate policy files; name every problem by file and field")
    policy_command.add_check_arguments(check)
    check.set_defaults(run=policy_command.check)
    apply = policy_commands.add_parser("apply", help="send a policy file to every open case of its tenant")
    policy_apply.add_arguments(apply)
    apply.set_defaults(run=policy_apply.apply)
    simulate = policy_commands.add_parser("simulate", help="replay archived cases under FILE's targets (what-if)")
    _lazy("starter.commands.simulate", "add_arguments")(simulate)

    report = commands.add_parser("report", help="reports from the case archive (sla)")
    _lazy("starter.commands.report", "add_subcommands")(report)

    archive = commands.add_parser("archive", help="the case archive's schema (migrate)")
    _lazy("starter.commands.archive", "add_subcommands")(archive)

    case = commands.add_parser("case", help="open, read and act on cases")
    case_command.add_subcommands(case)

    setup_namespace = commands.add_parser(
        "setup-namespace", help="create the namespace if missing and register the contract's search attributes"
    )
    _lazy("starter.namespace_setup", "add_arguments")(setup_namespace)
    setup_namespace.set_defaults(run=lambda args: _lazy("starter.namespace_setup", "run")(args))

    mailbox = commands.add_parser("mailbox", help="read a support mailbox over IMAP into cases and comments")
    _lazy("starter.mailbox.command", "add_arguments")(mailbox)
    mailbox.set_defaults(run=lambda args: _lazy("starter.mailbox.command", "run")(args))

    audit = commands.add_parser("audit", help="the fleet audit: open cases past a deadline with no breach recorded")
    _lazy("starter.auditor", "add_subcommands")(audit)
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number from 1 to 65535")
    return int(text)


def _lazy(module: str, name: str):
    """Import heavy subcommands (Temporal client, server launcher) only when used."""
    import importlib

    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (sla_command.UsageError, PolicyError) as problem:
        print(f"supportflow {args.command}: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The console script: every command exits through `exit_now`, so no Temporal client thread can abort
    the process during interpreter teardown (temporalio/sdk-python#300) after the work is done."""
    from starter.namespace_setup import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()
