"""`supportflow case open|status|list|comment` and one subcommand per update.

Options come from the contract models (`model_options`), so `case respond`
takes exactly the fields of `Respond`. Every read takes `--json`, which
prints the contract's own JSON.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from functools import partial

from starter import client as cases
from starter.commands import case_list
from starter.commands.connection import CommandFailed, connect_client, run
from starter.commands.model_options import ModelOptions, OptionError, add_model_options
from starter.commands.status_view import escalation_line, render, tenant_zone, when
from workflows.contracts import Actor, Amend, CaseRequest, CaseStatus, Comment
from workflows.updates import UPDATES, Update

# Gateway findings and internal fields: an operator opening a case by hand has none to report.
NOT_FROM_OPERATORS = ("phi_redacted", "notes", "requester_email_key", "answered_by")


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

    for verb in (update for update in UPDATES if update.cli):
        subcommand = commands.add_parser(
            verb.command, aliases=list(verb.aliases), help=verb.help, description=verb.help
        )
        _case_id(subcommand)
        verb_options = add_model_options(
            subcommand, verb.model, exclude=("actor", "requester_email_key"), nested=verb.nested
        )
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
    """Admitted like any intake (starter/admission.py): a field to fix exits 2, naming its option."""
    import tenant_policies
    from starter.admission import admit

    request: CaseRequest = _built(options, args)
    now = datetime.now(UTC)
    policy = tenant_policies.loaded_policy(request.tenant, now.year)
    admitted = admit(request, policy.policy, now, operator=True)
    opened = await cases.start_case(await connect_client(), admitted, policy)
    if args.json:
        print(json.dumps({"case_id": opened.case_id, "duplicate": opened.duplicate}))
    else:
        print(f"{opened.case_id} duplicate" if opened.duplicate else opened.case_id)
    return 0


async def show_status(args: argparse.Namespace) -> int:
    status = await cases.case_status(await connect_client(), args.case_id)
    print(status.model_dump_json(indent=2) if args.json else render(status))
    return 0


async def send_comment(options: ModelOptions[Comment], args: argparse.Namespace) -> int:
    comment = _built(options, args).model_copy(update={"actor": operator()})
    await cases.send_comment(await connect_client(), args.case_id, comment)
    print(f"{args.case_id}: comment sent")
    return 0


async def send_update(verb: Update, options: ModelOptions, args: argparse.Namespace) -> int:
    update = _built(options, args).model_copy(update={"actor": operator()})
    client = await connect_client()
    if isinstance(update, Amend):
        update = cases.with_requester_email_key(client, update)  # a new address is indexed as its keyed hash
    status = await cases.run_update(client, args.case_id, verb.name, update)
    print(status.model_dump_json(indent=2) if args.json else outcome_line(verb, status))
    return 0


def operator() -> Actor:
    """The CLI acts as the operating-system user who runs it."""
    try:
        return Actor(kind="cli", name=getpass.getuser())
    except (KeyError, OSError):  # a container user with no name
        return Actor(kind="cli", name="operator")


def outcome_line(verb: Update, status: CaseStatus) -> str:
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
