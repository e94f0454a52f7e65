"""The archive's own promises, on SQLite and on a real PostgreSQL: versioned upserts, records sealed with the payload
codec when a key is set (index columns in clear), the portal's closed cases, and the SMS/voice page log."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from archive_fixtures import fresh_archive_url
from postgres_fixtures import postgres  # noqa: F401
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import tenant_policies
from archive.migrate import head, migrate
from archive.pages import Page, latest_page_to, record_page
from archive.portal import closed_cases
from archive.schema import cases
from archive.store import Archive, ArchiveError, ArchiveLocked, ArchiveUnavailable
from starter.encryption import parse_keyring, requester_email_keys
from workflows.contracts import CaseRequest, CaseStatus, Requester, TimelineEntry
from workflows.opening import opened_case

OPENED = datetime(2030, 1, 7, 16, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent
KEYRING = parse_keyring(f"k1:{base64.b64encode(os.urandom(32)).decode()}")


@pytest.fixture(params=["sqlite", "postgresql"])
def archive_url(request, tmp_path) -> str:
    server = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    return fresh_archive_url(request.param, tmp_path, server)


def opened(email: str, subject: str, minutes: int = 0) -> CaseStatus:
    request = CaseRequest(
        tenant="blockit",
        channel="api",
        requester=Requester(name="Ana Diaz", email=email),
        subject=subject,
        severity=3,
        received_at=OPENED + timedelta(minutes=minutes),
    )
    status = opened_case("", request, tenant_policies.loaded_policy("blockit", 2030), request.received_at).status()
    return status.model_copy(update={"case_id": f"case-blockit-{subject.replace(' ', '-').lower()}"})


def closed(status: CaseStatus, hours: int, reason: str | None = None) -> CaseStatus:
    at = status.received_at + timedelta(hours=hours)
    entry = TimelineEntry(at=at, event="closed", detail={"reason": reason} if reason else {})
    return status.model_copy(update={"state": "closed", "closed_at": at, "timeline": [*status.timeline, entry]})


def test_migrate_creates_the_schema_once_and_is_idempotent(archive_url):
    archive = Archive(archive_url)
    assert migrate(archive) == (None, head())
    assert migrate(archive) == (head(), head())


MIGRATE_ON_GO = """
import os, sys, time
from archive.migrate import migrate
from archive.store import Archive
archive = Archive(sys.argv[1])
while not os.path.exists(sys.argv[2]):  # every process ready, then all at once
    time.sleep(0.001)
print(migrate(archive)[0])
"""


def test_processes_migrating_one_new_archive_at_once_all_succeed_and_create_it_once(archive_url, tmp_path):
    """The worker and the gateway of a first `supportflow up` (or two workers) each migrate on start: whoever
    comes second waits for the first and finds the schema at head, never a half-made one."""
    go = tmp_path / "go"
    command = [sys.executable, "-c", MIGRATE_ON_GO, archive_url, str(go)]
    migrators = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    time.sleep(3)  # the imports: a start signal given before them would not be simultaneous
    go.touch()
    answers = [migrator.communicate(timeout=120) for migrator in migrators]
    assert [migrator.returncode for migrator in migrators] == [0] * 4, [err[-2000:] for _, err in answers]
    befores = sorted(out.strip() for out, _ in answers)
    assert befores == sorted(["None", head(), head(), head()]), befores  # exactly one created it
    assert migrate(Archive(archive_url)) == (head(), head())


def test_a_sqlite_file_another_process_holds_is_archive_locked_and_nothing_else_is(tmp_path):
    """`migrate` retries on ArchiveLocked, known by SQLite's own busy code whichever statement met it."""
    path = tmp_path / "cases.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    waiting = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as busy:
        waiting.execute("SELECT count(*) FROM sqlite_master").fetchall()
    with pytest.raises(sqlite3.OperationalError) as missing:
        holder.execute("SELECT * FROM no_such_table")
    holder.execute("ROLLBACK")
    archive = Archive(f"sqlite:///{path}")
    locked = archive._refused(OperationalError("SELECT", {}, busy.value))
    assert isinstance(locked, ArchiveLocked) and "database is locked" in str(locked)
    other = archive._refused(OperationalError("SELECT", {}, missing.value))
    assert isinstance(other, ArchiveUnavailable) and not isinstance(other, ArchiveLocked)
    for connection in (holder, waiting):
        connection.close()


def test_writes_are_versioned_upserts(archive_url):
    archive = Archive(archive_url)
    migrate(archive)
    first = opened("ana@clinic.example", "Login fails")
    assert archive.write(first) is True
    assert archive.write(first) is False, "a replayed write changes nothing"
    final = closed(first, 2, "answered by phone")
    assert archive.write(final) is True
    assert archive.write(first) is False, "an opening row never replaces a closed one"
    assert archive.status(first.case_id) == final


def test_with_a_key_the_record_is_sealed_and_the_index_columns_stay_clear(archive_url):
    archive = Archive(archive_url, KEYRING)
    migrate(archive)
    status = closed(opened("Ana@Clinic.example", "Printer jam"), 3)
    archive.write(status)
    with archive.connected() as connection:
        row = connection.execute(select(cases).where(cases.c.case_id == status.case_id)).one()
    assert row.status_encoding == "binary/encrypted" and b"clinic.example" not in row.status.lower()
    assert row.tenant == "blockit" and row.severity == 3 and row.closed and row.state == "closed"
    assert row.requester == requester_email_keys("ana@clinic.example", KEYRING)[0]
    assert archive.status(status.case_id) == status
    with pytest.raises(ArchiveError, match="set SUPPORTFLOW_ENCRYPTION_KEY"):
        Archive(archive_url).status(status.case_id)


def test_the_portal_lists_a_requesters_closed_cases_newest_first(archive_url):
    archive = Archive(archive_url, KEYRING)
    migrate(archive)
    older = closed(opened("ana@clinic.example", "Old one"), 1)
    newer = closed(opened("ana@clinic.example", "New one", minutes=30), 5)
    still_open = opened("ana@clinic.example", "Open one")
    someone_else = closed(opened("bo@clinic.example", "Not hers"), 2)
    for status in (older, newer, still_open, someone_else):
        archive.write(status)
    keys = requester_email_keys("ANA@clinic.example", KEYRING)
    assert [s.case_id for s in closed_cases(archive, "blockit", keys)] == [newer.case_id, older.case_id]
    assert closed_cases(archive, "blub0x", keys) == []
    assert closed_cases(archive, "blockit", []) == []


def test_the_page_log_answers_the_latest_page_to_a_number_within_24_hours(archive_url):
    archive = Archive(archive_url)
    migrate(archive)
    at = datetime(2030, 1, 7, 2, 0, tzinfo=UTC)
    assert record_page(archive, Page("+15555550100", "blockit", "case-blockit-a", "support-lead", at), "key-a")
    assert not record_page(archive, Page("+15555550100", "blockit", "case-blockit-a", "support-lead", at), "key-a")
    later = at + timedelta(hours=1)
    record_page(archive, Page("+15555550100", "blockit", "case-blockit-b", "support-lead", later))
    record_page(archive, Page("+15555550101", "blockit", "case-blockit-c", "engineering-oncall", later))

    latest = latest_page_to(archive, "+15555550100", later + timedelta(minutes=5))
    assert latest == Page("+15555550100", "blockit", "case-blockit-b", "support-lead", later)
    assert latest_page_to(archive, "+15555550100", at + timedelta(minutes=30)).case_id == "case-blockit-a"
    assert latest_page_to(archive, "+15555550100", later + timedelta(hours=24, minutes=1)) is None
    assert latest_page_to(archive, "+15555550199", later) is None
