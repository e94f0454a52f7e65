"""`supportflow mailbox --tenant T --imap imap[s]://USER@HOST[:PORT]/FOLDER [--once]`.

The password comes only from SUPPORTFLOW_IMAP_PASSWORD; Temporal from the
same variables as the gateway (TEMPORAL_ADDRESS, SUPPORTFLOW_TASK_QUEUE, …),
policies from SUPPORTFLOW_POLICY_DIR. `--once` handles what is waiting and
exits: 0 when done, 1 with a one-line reason when the mailbox or Temporal
cannot be reached, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys

from starter.mailbox.address import PASSWORD_VARIABLE, MailboxAddressError, parse_address
from starter.mailbox.imap import MailboxUnreachable
from starter.mailbox.reader import POLL_SECONDS, MailboxReader, TemporalTrouble
from tenant_policies import policy_path

TENANT = re.compile(r"[a-z0-9][a-z0-9_-]*")
UNREACHABLE = 1
USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="the tenant whose policy the mail is taken under")
    parser.add_argument(
        "--imap",
        required=True,
        metavar="URL",
        help="imap[s]://USER@HOST[:PORT]/FOLDER (password in SUPPORTFLOW_IMAP_PASSWORD)",
    )
    parser.add_argument("--once", action="store_true", help="handle what is waiting, then exit")
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=POLL_SECONDS,
        help=f"how often to look when the server has no IDLE (default {POLL_SECONDS:g})",
    )


def run(args: argparse.Namespace) -> int:
    from starter import logs

    try:
        address = parse_address(args.imap)
    except MailboxAddressError as problem:
        return _usage(str(problem))
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if not password:
        return _usage(f"set {PASSWORD_VARIABLE} to the password of {address.user} (never on the command line)")
    if not TENANT.fullmatch(args.tenant) or not policy_path(args.tenant).is_file():
        return _usage(f"--tenant {args.tenant!r}: no policy file {policy_path(args.tenant)}")
    if args.poll_seconds <= 0:
        return _usage("--poll-seconds must be greater than zero")
    logs.configure()
    reader = MailboxReader(address, password, args.tenant, _connect, poll_seconds=args.poll_seconds)
    return asyncio.run(_once(reader) if args.once else _forever(reader))


async def _once(reader: MailboxReader) -> int:
    try:
        handled = await reader.once()
    except (MailboxUnreachable, TemporalTrouble) as problem:
        print(f"supportflow mailbox: {problem}", file=sys.stderr)
        return UNREACHABLE
    print(f"supportflow mailbox: {handled} message(s) handled in {reader.address}")
    return 0


async def _forever(reader: MailboxReader) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await reader.forever(stop)
    return 0


async def _connect():
    from starter.client import connect

    return await connect()


def _usage(message: str) -> int:
    print(f"supportflow mailbox: {message}", file=sys.stderr)
    return USAGE
