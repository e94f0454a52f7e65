"""`python -m bench.records_worker`: the production worker (`worker.main`) serving only `ArchiveLifecycle` and the
production `archive_case` activity; settings, sandbox and connection unchanged, as in bench/floor_worker.py."""

from __future__ import annotations

import sys

import worker
from bench.archive_lifecycle import ArchiveLifecycle


def archive_only(client=None) -> tuple[list[type], list]:
    from activities.archive import CaseArchiver
    from archive.store import Archive

    return [ArchiveLifecycle], [CaseArchiver(Archive.from_env()).archive_case]


if __name__ == "__main__":
    worker.registered = archive_only
    sys.exit(worker.main())
