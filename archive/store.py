"""The case archive's database: where it is, and reading and writing case records.

`SUPPORTFLOW_ARCHIVE_URL` is a SQLAlchemy URL; unset, it is a SQLite file
`.data/cases.sqlite` under the working directory (`supportflow up` passes its
data dir's). Every write is an upsert guarded by a version (the number of
timeline entries, which only grows): a replayed write changes nothing and an
opening row never replaces a closed one. With an encryption key the stored
`CaseStatus` is sealed by the payload codec (starter/encryption.py); the
index columns stay in clear.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, create_engine, event, func, inspect, not_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, NoSuchModuleError, OperationalError
from temporalio.api.common.v1 import Payload

from archive.schema import cases
from starter.encryption import ENCODING, EncryptionCodec, Keyring, keyring_from_env, requester_email_key
from workflows.contracts import CaseStatus

VARIABLE = "SUPPORTFLOW_ARCHIVE_URL"
DEFAULT_FILE = Path(".data") / "cases.sqlite"
PLAIN = "json/plain"
# Each dialect's INSERT with its ON CONFLICT clause (SQLite and PostgreSQL spell it alike).
DIALECTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
CONNECT_TIMEOUT_SECONDS = 5
MIGRATION_LOCK = 0x5F_A2C4  # PostgreSQL advisory lock: one `migrate` at a time per database


class ArchiveError(RuntimeError):
    """Something about the archive an operator must fix or wait for; the message names the URL, never its password."""


class ArchiveUnavailable(ArchiveError):
    """The database cannot be reached (or refused the statement); a write is retried until it is back."""


class ArchiveLocked(ArchiveUnavailable):
    """A SQLite file another process holds locked past the busy timeout, or while it switches the file to WAL
    (which fails at once, before any busy timeout applies): trying again shortly succeeds."""


class ArchiveNotReady(ArchiveError):
    """The database answers but holds no archive yet: `supportflow archive migrate` creates it."""


class ArchiveUrlError(ArchiveError, ValueError):
    """SUPPORTFLOW_ARCHIVE_URL is not a URL this archive can use."""


def archive_url(env: Mapping[str, str] | None = None, data_dir: Path | None = None) -> str:
    """The configured URL, or the SQLite file under `data_dir` (default: `.data` in the working directory)."""
    configured = (os.environ if env is None else env).get(VARIABLE, "").strip()
    if configured:
        return configured
    path = (data_dir / DEFAULT_FILE.name) if data_dir is not None else Path.cwd() / DEFAULT_FILE
    return f"sqlite:///{path.resolve()}"


def masked(url: str | URL) -> str:
    """The URL as logs and messages show it: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def utc(moment: datetime) -> datetime:
    """Stored without a zone, in UTC: every database compares those alike."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def closing_reason(status: CaseStatus) -> str | None:
    closes = [entry for entry in status.timeline if entry.event == "closed"]
    return closes[-1].detail.get("reason") if closes else None


class Archive:
    """One database's case records. Thread-safe: the worker writes from a thread, the gateway reads from others."""

    def __init__(self, url: str | URL, keyring: Keyring | None = None):
        self.url = url if isinstance(url, URL) else _parse(url)
        self.where = masked(self.url)
        self.keyring = keyring
        self._codec = EncryptionCodec(keyring) if keyring else None
        if self.url.get_backend_name() not in DIALECTS:
            raise ArchiveUrlError(
                f"{VARIABLE}={self.where}: the archive runs on sqlite or postgresql (postgresql+psycopg://…), "
                f"not {self.url.get_backend_name()}"
            )
        self.engine = _engine(self.url, self.where)
        self._schema_checked = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, data_dir: Path | None = None) -> Archive:
        env = os.environ if env is None else env
        return cls(archive_url(env, data_dir), keyring_from_env(env))

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return self.url.get_backend_name()  # type: ignore[return-value]

    def dispose(self) -> None:
        self.engine.dispose()

    # --- connections ------------------------------------------------------------

    @contextmanager
    def connected(self) -> Iterator[Connection]:
        """A connection in a transaction; an unreachable database becomes ArchiveUnavailable naming the URL."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as problem:
            raise self._refused(problem) from None

    def _refused(self, problem: DBAPIError) -> ArchiveError:
        first = str(problem.orig or problem).strip().splitlines()
        said = first[0] if first else type(problem).__name__
        if _sqlite_busy(problem.orig):
            return ArchiveLocked(f"the case archive at {self.where} cannot be reached: {said}")
        if isinstance(problem, OperationalError | InterfaceError):
            return ArchiveUnavailable(f"the case archive at {self.where} cannot be reached: {said}")
        return ArchiveError(f"the case archive at {self.where} refused a statement: {said}")

    @contextmanager
    def migrating(self) -> Iterator[Connection]:
        """One transaction holding the archive's migration lock. A worker and a gateway starting together both
        migrate: the second waits, then finds the schema at head; a migration that fails leaves nothing half
        made (SQLite's DDL is transactional once the driver stops opening transactions on its own)."""
        try:
            with self.engine.connect() as connection:
                if self.dialect == "postgresql":
                    with connection.begin():
                        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
                        yield connection
                    return
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, before the revision is read
                try:
                    yield connection
                except BaseException:
                    connection.exec_driver_sql("ROLLBACK")
                    raise
                connection.exec_driver_sql("COMMIT")
        except DBAPIError as problem:
            raise self._refused(problem) from None

    def reachable(self) -> str | None:
        """None when the database answers, else the sentence saying why not (naming the URL, password masked)."""
        try:
            with self.connected() as connection:
                connection.exec_driver_sql("SELECT 1")
            return None
        except ArchiveError as problem:
            return str(problem)

    def require_schema(self) -> None:
        """Readers need the tables; a missing SQLite file is not silently created by a report."""
        if self._schema_checked:
            return
        if self.dialect == "sqlite" and self.url.database and not Path(self.url.database).exists():
            raise ArchiveNotReady(f"no case archive at {self.where}: the file does not exist (is this the right URL?)")
        with self.connected() as connection:
            if not inspect(connection).has_table("cases"):
                raise ArchiveNotReady(
                    f"the case archive at {self.where} has no tables yet; run `supportflow archive migrate`"
                )
        self._schema_checked = True

    # --- case records -----------------------------------------------------------

    def write(self, status: CaseStatus) -> bool:
        """Upsert one case's record; False when the stored one is as new or newer (a replay, or a late opening)."""
        row = self.row_of(status)
        insert = DIALECTS[self.dialect](cases).values(row)
        stored, incoming = cases.c, insert.excluded
        newer = and_(stored.version < incoming.version, not_(and_(stored.closed, not_(incoming.closed))))
        upsert = insert.on_conflict_do_update(
            index_elements=[stored.case_id],
            set_={name: incoming[name] for name in row if name != "case_id"},
            where=newer,
        )
        with self.connected() as connection:  # RETURNING names the row only when it was inserted or updated
            return connection.execute(upsert.returning(stored.case_id)).first() is not None

    def row_of(self, status: CaseStatus) -> dict:
        encoding, blob = self.sealed(status)
        return {
            "case_id": status.case_id,
            "tenant": status.tenant,
            "severity": status.severity,
            "state": status.state,
            "channel": status.channel,
            "received_at": utc(status.received_at),
            "closed": status.state == "closed",
            "closed_at": utc(status.closed_at) if status.closed_at else None,
            "closed_reason": closing_reason(status),
            "breached": bool(status.breaches),
            "requester": self.requester_index(status.requester.email),
            "version": len(status.timeline),
            "status_encoding": encoding,
            "status": blob,
        }

    def requester_index(self, email: str | None) -> str | None:
        """RequesterEmail's value: the lower-cased address, or its keyed hash when payloads are encrypted."""
        if self.keyring is not None:
            return requester_email_key(email, self.keyring)
        return (email or "").strip().lower() or None

    def sealed(self, status: CaseStatus) -> tuple[str, bytes]:
        plain = status.model_dump_json().encode()
        if self._codec is None:
            return PLAIN, plain
        payload = self._codec.seal(Payload(metadata={"encoding": PLAIN.encode()}, data=plain))
        return ENCODING.decode(), payload.SerializeToString()

    def opened(self, encoding: str, blob: bytes) -> CaseStatus:
        if encoding == PLAIN:
            return CaseStatus.model_validate_json(blob)
        if self._codec is None:
            raise ArchiveError(
                f"the case archive at {self.where} holds encrypted records; set SUPPORTFLOW_ENCRYPTION_KEY to read them"
            )
        return CaseStatus.model_validate_json(self._codec.open(Payload.FromString(blob)).data)

    def status(self, case_id: str) -> CaseStatus | None:
        self.require_schema()
        with self.connected() as connection:
            found = connection.execute(
                select(cases.c.status_encoding, cases.c.status).where(cases.c.case_id == case_id)
            ).first()
        return self.opened(*found) if found else None

    def received_between(self, tenant: str, start: datetime, end: datetime) -> list[CaseStatus]:
        """The tenant's cases received in [start, end), by received_at then case_id."""
        self.require_schema()
        query = (
            select(cases.c.status_encoding, cases.c.status)
            .where(cases.c.tenant == tenant, cases.c.received_at >= utc(start), cases.c.received_at < utc(end))
            .order_by(cases.c.received_at, cases.c.case_id)
        )
        with self.connected() as connection:
            return [self.opened(encoding, blob) for encoding, blob in connection.execute(query)]

    def closed_of_requester(self, tenant: str, requester_keys: Sequence[str], limit: int) -> list[CaseStatus]:
        """A requester's closed cases (by any of their index values), most recently closed first."""
        if not requester_keys:
            return []
        self.require_schema()
        query = (
            select(cases.c.status_encoding, cases.c.status)
            .where(cases.c.tenant == tenant, cases.c.requester.in_(list(requester_keys)), cases.c.closed.is_(True))
            .order_by(cases.c.closed_at.desc(), cases.c.case_id)
            .limit(limit)
        )
        with self.connected() as connection:
            return [self.opened(encoding, blob) for encoding, blob in connection.execute(query)]


@functools.cache
def archive_at(url: str) -> Archive:
    """One archive (one connection pool) per URL for the process's lifetime, keyed from the environment."""
    return Archive(url, keyring_from_env())


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise ArchiveUrlError(f"{VARIABLE} is not a SQLAlchemy URL such as postgresql+psycopg://user@host/db") from None


def _engine(url: URL, where: str) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    except (NoSuchModuleError, ModuleNotFoundError) as problem:
        raise ArchiveUrlError(f"{VARIABLE}={where}: no driver for it ({problem})") from None


def _sqlite_busy(error: BaseException | None) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included (sqlite3 reports them as OperationalError)."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.Error)
        and code is not None
        and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    )


def _sqlite_pragmas(connection, _record) -> None:
    """WAL: the worker writes while the gateway and the CLI read, and readers never block the writer."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
