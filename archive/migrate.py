"""Bringing an archive's schema to the newest migration (Alembic, scripts shipped in `archive/migrations`)."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from archive.store import Archive, ArchiveLocked

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


# A new SQLite file switched to WAL by one process while another opens it can refuse the second at once
# ("database is locked"), before any busy timeout applies: that process tries again, and finds the schema made.
SQLITE_LOCKED_RETRIES = (0.1, 0.3, 1.0, 3.0)


def migrate(archive: Archive) -> tuple[str | None, str]:
    """Upgrade to head; idempotent. Returns (revision before, revision now). A SQLite file's folder is made."""
    if archive.dialect == "sqlite" and archive.url.database and archive.url.database != ":memory:":
        Path(archive.url.database).parent.mkdir(parents=True, exist_ok=True)
    for pause in SQLITE_LOCKED_RETRIES:
        try:
            return _upgrade(archive)
        except ArchiveLocked:
            time.sleep(pause)
    return _upgrade(archive)


def _upgrade(archive: Archive) -> tuple[str | None, str]:
    with archive.migrating() as connection:  # the revision is read under the lock, so only one process upgrades
        before = MigrationContext.configure(connection).get_current_revision()
        if before != head():
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return before, head()
