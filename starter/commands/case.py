"""`supportflow case open|status|list|comment` and one subcommand per update.

Options come from the contract models (`model_options`), so `case respond`
takes exactly the fields of `Respond`. Every read takes `--json`, which
prints the contract's own JSON.
"""

from __future__ import annotations

import argparse
import json
from functools import partial

from starter.commands import case_list
from starter.commands.case_updates import UPDATES, UpdateCommand
from starter.commands.connection import CommandFailed, case_status, connect_client, run, signal_case, update_case
from starter.commands.model_options import ModelOptions, OptionError, add_model_options
from starter.commands.status_view import escalation_line, render, tenant_zone, when
from workflows.contracts import Amend, CaseRequest, CaseStatus, Comment

# Gateway findings: an operator opening a case by hand has none to report.
NOT_FROM_OPERATORS = ("phi_redacted", "notes")


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="case_command", required=True, metavar="COMMAND")

    opening = commands.add_parser(
        "open", help="open a case (prints its id; 'duplicate' when the source id already opened one)"
    )
    options = add_model_options(opening, CaseRequest, exclude=NOT_FROM_OPERATORS, nested=("requester",))
    _json_option(opening)
    opening.set_defaults(run=partial(run, "case open", partial(open_case, options)))

    status = commands.add_parser("status", help="a case's state, clocks, escalation and recent timeline")
    _case_id(status)
    _json_option(status, "print the CaseStatus JSON")
    status.set_defaults(run=partial(run, "case status", show_status))

    listing = commands.add_parser("list", help="cases from visibility (default: every open case)")
    case_list.add_arguments(listing)
    _json_option(listing, "print a JSON array")
    listing.set_defaults(run=partial(run, "case list", case_list.list_cases))

    comment = commands.add_parser("comment", help="add a comment (a requester's comment resumes a paused case)")
    _case_id(comment)
    comment_options = add_model_options(comment, Comment)
    comment.set_defaults(run=partial(run, "case comment", partial(send_comment, comment_options)))

    for verb in UPDATES:
        subcommand = commands.add_parser(
            verb.command, aliases=list(verb.aliases), help=verb.help, description=verb.help
        )
        _case_id(subcommand)
        verb_options = add_model_options(subcommand, verb.model, nested=verb.nested)
        _json_option(subcommand, "print the CaseStatus JSON the update returns")
        subcommand.set_defaults(run=partial(run, f"case {verb.command}", partial(send_update, verb, verb_options)))


def _case_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case_id", metavar="CASE_ID", help="the case id, case-<tenant>-<key>")


def _json_option(parser: argparse.ArgumentParser, help: str = "print JSON") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def _built(options: ModelOptions, args: argparse.Namespace):
    try:
        return options.build(args)
    except OptionError as invalid:
        raise CommandFailed(str(invalid), 2) from None


async def open_case(options: ModelOptions[CaseRequest], args: argparse.Namespace) -> int:
    from activities.policy import PolicyError, policy_dir, policy_path, read_policy_file
    from starter.cases import start_case

    request: CaseRequest = _built(options, args)
    if not policy_path(request.tenant).is_file():
        raise CommandFailed(f"--tenant: no policy for tenant {request.tenant!r} in {policy_dir()}", 2)
    try:
        policy = read_policy_file(policy_path(request.tenant))
    except PolicyError as problem:
        raise CommandFailed(str(problem), 2) from None
    if request.severity is not None and request.severity not in policy.severities:
        known = ", ".join(str(level) for level in policy.severities)
        raise CommandFailed(f"--severity: {request.tenant} has no severity {request.severity} (it has {known})", 2)
    client = await connect_client()
    opened = await start_case(client, request)
    if args.json:
        print(json.dumps({"case_id": opened.case_id, "duplicate": opened.duplicate}))
    else:
        print(f"{opened.case_id} duplicate" if opened.duplicate else opened.case_id)
    return 0


async def show_status(args: argparse.Namespace) -> int:
    status = await case_status(await connect_client(), args.case_id)
    print(status.model_dump_json(indent=2) if args.json else render(status))
    return 0


async def send_comment(options: ModelOptions[Comment], args: argparse.Namespace) -> int:
    comment = _built(options, args)
    await signal_case(await connect_client(), args.case_id, "comment", comment)
    print(f"{args.case_id}: comment sent")
    return 0


async def send_update(verb: UpdateCommand, options: ModelOptions, args: argparse.Namespace) -> int:
    from starter.cases import with_requester_email_key

    update = _built(options, args)
    client = await connect_client()
    if isinstance(update, Amend):
        update = with_requester_email_key(client, update)  # a new address is indexed as its keyed hash when encrypting
    status = await update_case(client, args.case_id, verb.update, update, verb.command)
    print(status.model_dump_json(indent=2) if args.json else outcome_line(verb, status))
    return 0


def outcome_line(verb: UpdateCommand, status: CaseStatus) -> str:
    zone = tenant_zone(status.tenant)
    parts = [
        f"{status.case_id}: {verb.command} done",
        f"state {status.state}",
        f"severity {status.severity} {status.severity_name}",
    ]
    if status.next_due_at is not None:
        parts.append(f"next due {when(status.next_due_at, zone)}")
    if status.escalation.ladder is not None:
        parts.append(f"escalation {escalation_line(status)}")
    return " · ".join(parts)
