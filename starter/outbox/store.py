"""The outbox's messages, one row per idempotency key, in SQLite.

A file in `up`'s data dir (`SUPPORTFLOW_OUTBOX_FILE`), because the cases
survive a restart of `up` and their pages should too: the ack link that paged
someone before the restart is still the one to click. Without a file the
store is in memory. Two writers meet in a row: a stand-in records what it
received (`capture`), the worker reports how each attempt ended (`report`);
either may come first, and a retried delivery stays one row.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from activities.outbox import AttemptReport
from starter.outbox.models import OutboxMessage

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    idempotency_key TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    channel TEXT NOT NULL,
    to_address TEXT NOT NULL,
    contact TEXT,
    case_id TEXT,
    ladder TEXT,
    step INTEGER,
    subject TEXT,
    body TEXT NOT NULL,
    ack_url TEXT,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_case ON messages (case_id, at);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (at);
"""
COLUMNS = "at, channel, to_address, contact, case_id, ladder, step, subject, body, ack_url, idempotency_key, outcome, attempts, error"


@dataclass(frozen=True)
class Captured:
    """One attempt as a stand-in received it; `refusal` is the stand-in's own "no", as the real service says it."""

    idempotency_key: str
    channel: str
    to: str
    subject: str | None
    body: str
    ack_url: str | None = None
    refusal: str | None = None


def key_fields(key: str) -> dict[str, object]:
    """case_id, ladder, step and contact from `<case_id>:<ladder>:<run>:<round>:<step>:<contact>:<channel>`."""
    parts = key.split(":")
    if len(parts) != 7 or not all(part.isdigit() for part in parts[2:5]):
        return {"case_id": None, "ladder": None, "step": None, "contact": None}
    return {"case_id": parts[0], "ladder": parts[1], "step": int(parts[4]), "contact": parts[5]}


class OutboxStore:
    def __init__(self, path: Path | None = None):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        if path is not None:
            self._db.execute("PRAGMA journal_mode=wal")
            path.chmod(0o600)  # message bodies carry ack links
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def capture(self, captured: Captured) -> None:
        """A stand-in's record of one attempt: what arrived, and whether the stand-in took it."""
        fields = key_fields(captured.idempotency_key)
        outcome = "failed" if captured.refusal else "delivered"
        self._write(
            """INSERT INTO messages (at, channel, to_address, contact, case_id, ladder, step, subject, body, ack_url,
                   idempotency_key, outcome, attempts, error)
               VALUES (:at, :channel, :to, :contact, :case_id, :ladder, :step, :subject, :body, :ack_url, :key,
                   :outcome, 1, :error)
               ON CONFLICT (idempotency_key) DO UPDATE SET
                   to_address = excluded.to_address, subject = coalesce(excluded.subject, subject),
                   body = excluded.body, ack_url = coalesce(excluded.ack_url, ack_url),
                   outcome = excluded.outcome, error = excluded.error, attempts = attempts + 1""",
            at=_now(),
            channel=captured.channel,
            to=captured.to,
            subject=captured.subject,
            body=captured.body,
            ack_url=captured.ack_url,
            key=captured.idempotency_key,
            outcome=outcome,
            error=captured.refusal,
            **fields,
        )

    def report(self, report: AttemptReport) -> None:
        """The worker's word on one attempt; it names the case and contact, and an attempt that reached no stand-in."""
        delivery = report.delivery
        self._write(
            """INSERT INTO messages (at, channel, to_address, contact, case_id, ladder, step, subject, body, ack_url,
                   idempotency_key, outcome, attempts, error)
               VALUES (:at, :channel, :to, :contact, :case_id, :ladder, :step, :subject, :body, :ack_url, :key,
                   :outcome, :attempt, :error)
               ON CONFLICT (idempotency_key) DO UPDATE SET
                   contact = excluded.contact, case_id = excluded.case_id, ladder = excluded.ladder,
                   step = excluded.step, subject = coalesce(subject, excluded.subject),
                   ack_url = coalesce(excluded.ack_url, ack_url),
                   outcome = CASE WHEN excluded.attempts >= attempts THEN excluded.outcome ELSE outcome END,
                   error = CASE WHEN excluded.attempts >= attempts THEN excluded.error ELSE error END,
                   attempts = max(attempts, excluded.attempts)""",
            at=_now(),
            channel=delivery.channel,
            to=delivery.address,
            contact=delivery.contact,
            case_id=delivery.case_id,
            ladder=delivery.ladder,
            step=delivery.step,
            subject=delivery.subject,
            body=delivery.message,
            ack_url=report.ack_url,
            key=delivery.idempotency_key,
            outcome=report.outcome,
            attempt=report.attempt,
            error=report.error,
        )

    def messages(self, case_id: str | None = None, limit: int = 50) -> list[OutboxMessage]:
        """Newest first; the ones about `case_id` when given."""
        where, values = ("WHERE case_id = ?", [case_id]) if case_id else ("", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM messages {where} ORDER BY at DESC, rowid DESC LIMIT ?", [*values, limit]
            ).fetchall()
        names = [name.strip() for name in COLUMNS.split(",")]
        found = []
        for row in rows:
            record = dict(zip(names, row, strict=True))
            record["to"] = record.pop("to_address")
            found.append(OutboxMessage.model_validate(record))
        return found

    def _write(self, statement: str, **values: object) -> None:
        with self._lock:
            self._db.execute(statement, values)


def _now() -> str:
    # Fixed width, UTC: the text sorts as the time does.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
