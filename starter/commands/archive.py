"""`supportflow archive migrate`: bring the case archive's schema to the newest migration (idempotent)."""

from __future__ import annotations

import argparse
import sys

from archive.migrate import migrate
from archive.store import Archive, ArchiveError, ArchiveUrlError


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="archive_command", required=True, metavar="COMMAND")
    migrating = commands.add_parser("migrate", help="create or upgrade the case archive's tables")
    migrating.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    try:
        archive = Archive.from_env()
    except ArchiveUrlError as problem:
        print(f"supportflow archive: {problem}", file=sys.stderr)
        return 2
    try:
        before, now = migrate(archive)
    except ArchiveError as problem:
        print(f"supportflow archive: {problem}", file=sys.stderr)
        return 1
    finally:
        archive.dispose()
    print(f"{archive.where}: " + (f"at {now} (already)" if before == now else f"migrated {before or 'empty'} → {now}"))
    return 0
