"""The `archive_case` activity: one `CaseStatus` (the opening row, or the final one) written to the case archive.

Idempotent: the archive's upsert is guarded by a version, so a retried or
replayed write changes nothing and a late opening write never replaces the
closed record. An unreachable database is logged once per outage (the URL
with its password masked) and the activity fails, to be retried by
`workflows/archive_policy.ARCHIVE_RETRY` until the database is back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import cache

from temporalio import activity
from temporalio.exceptions import ApplicationError

from archive.migrate import migrate
from archive.pages import Page, record_page
from archive.store import Archive, ArchiveError
from starter.encryption import keyring_from_env
from workflows.archive_policy import ARCHIVE_ACTIVITY
from workflows.contracts import CaseStatus

log = logging.getLogger("supportflow.archive")


@cache
def archiver_for(url: str) -> CaseArchiver:
    """One archiver per database for the worker's lifetime: records and the page log share its pool and its
    one-time migration (two pools migrating one SQLite file at once fail each other)."""
    return CaseArchiver(Archive(url, keyring_from_env()))


class CaseArchiver:
    """Holds the archive (its connection pool) for the worker's lifetime."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self._schema_ready = False
        self._outage: str | None = None
        self._lock = threading.Lock()

    @activity.defn(name=ARCHIVE_ACTIVITY)
    async def archive_case(self, status: CaseStatus) -> bool:
        """Write `status`; True when it changed the stored record. Runs in a thread: the driver blocks."""
        try:
            written = await asyncio.to_thread(self._write, status)
        except ArchiveError as problem:
            self._outage_began(str(problem))
            raise ApplicationError(str(problem), type="ArchiveUnavailable") from None
        self._outage_ended()
        return written

    def _write(self, status: CaseStatus) -> bool:
        self._ready()
        return self.archive.write(status)

    def log_page(self, page: Page, idempotency_key: str) -> bool:
        """The SMS/voice page log (Decision 11), in the same database and connection pool as the records."""
        self._ready()
        return record_page(self.archive, page, idempotency_key)

    def _ready(self) -> None:
        with self._lock:
            if not self._schema_ready:
                # Idempotent: a worker never waits on an operator step (`supportflow archive migrate` does the same).
                migrate(self.archive)
                self._schema_ready = True

    def _outage_began(self, problem: str) -> None:
        with self._lock:
            first, self._outage = self._outage is None, problem
        if first:
            log.warning("%s; case records are retried until it is back (closing cases wait for theirs)", problem)

    def _outage_ended(self) -> None:
        with self._lock:
            ended, self._outage = self._outage is not None, None
        if ended:
            log.info("the case archive at %s is reachable again", self.archive.where)
