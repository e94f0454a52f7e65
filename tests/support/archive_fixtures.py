"""The case archive under test: an isolated SQLite file for every session, and cases driven through the real
workflow on the time-skipping server with their records written to SQLite or to a real PostgreSQL.

`isolated_archive` is autouse (conftest imports it): no test ever writes to `.data/cases.sqlite`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from case_fixtures import CaseEnv
from postgres_fixtures import PostgresServer, postgres  # noqa: F401
from receivers import HttpReceiver, SmtpReceiver
from temporal_fixtures import BIN, case_worker, register_search_attributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from archive.migrate import migrate
from archive.store import VARIABLE, Archive


@pytest.fixture(scope="session", autouse=True)
def isolated_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every worker a test builds writes its case records here unless the test points it elsewhere."""
    url = f"sqlite:///{tmp_path_factory.mktemp('archive') / 'cases.sqlite'}"
    before = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = url
    yield url
    if before is None:
        os.environ.pop(VARIABLE, None)
    else:
        os.environ[VARIABLE] = before


@dataclass
class ArchivedCaseEnv(CaseEnv):
    archive: Archive | None = None
    postgres: PostgresServer | None = None


def fresh_archive_url(kind: str, tmp_path: Path, server: PostgresServer | None) -> str:
    if kind == "postgresql":
        assert server is not None
        return server.create_database()
    return f"sqlite:///{tmp_path / 'cases.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def archive_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest_asyncio.fixture
async def archived_env(
    archive_kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    policies: Path,
    http_receiver: HttpReceiver,
    twilio_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> AsyncIterator[ArchivedCaseEnv]:
    """A fresh time-skipping server and the production worker, its records going to a fresh archive."""
    server = request.getfixturevalue("postgres") if archive_kind == "postgresql" else None
    url = fresh_archive_url(archive_kind, tmp_path, server)
    monkeypatch.setenv(VARIABLE, url)
    archive = Archive(url)
    migrate(archive)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    try:
        async with env:
            async with case_worker(env.client) as queue:
                yield ArchivedCaseEnv(env, queue, http_receiver, twilio_receiver, smtp_receiver, archive, server)
    finally:
        archive.dispose()
