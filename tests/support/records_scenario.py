"""A week of blockit cases driven through the real workflow on the time-skipping server, their records in the
archive: the set the SLA report and the what-if are checked against, with every answer worked out by hand.

blockit (policies/blockit.yaml): Mon–Fri 09:00–17:00 America/Chicago (CST, UTC−6 in January 2030).
  Sev 1 Critical: response 30m 24x7, resolution 4h 24x7
  Sev 2 High:     response 1h business, resolution 2d 24x7 (a workaround stops it), emergency 48h 24x7
  Sev 3 Medium:   response 1h business, resolution 5d 24x7 (a workaround stops it)
  Sev 4 Low:      response 24h business, resolution 10d 24x7
The report covers cases received from Mon 2030-01-07 to Mon 2030-01-14 (exclusive), asked on Mon 14 at 09:30.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from case_fixtures import CaseEnv, blockit_request
from support import delivery_stand_ins
from temporal_fixtures import BIN, case_worker, register_search_attributes
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from archive.live import with_live_status
from archive.migrate import migrate
from archive.store import VARIABLE, Archive
from workflows.contracts import CaseStatus

CHICAGO = ZoneInfo("America/Chicago")
FROM, TO = date(2030, 1, 7), date(2030, 1, 14)


def jan(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=CHICAGO)


ASKED_AT = jan(14, 9, 30)


@dataclass
class Week:
    env: CaseEnv
    archive: Archive
    url: str
    policy_dir: Path
    cases: dict[str, WorkflowHandle] = field(default_factory=dict)

    def id(self, name: str) -> str:
        return self.cases[name].id

    async def statuses(self) -> list[CaseStatus]:
        """The archived rows, open ones with their live status: what the report and the what-if read."""
        low, high = datetime.combine(date(2030, 1, 1), datetime.min.time(), CHICAGO), jan(31, 0)
        return (await with_live_status(self.archive.received_between("blockit", low, high), self.env.client)).cases

    async def at(self, moment: datetime) -> None:
        """Skip the test clock to `moment`; two things at the same moment happen milliseconds apart."""
        late = await self.env.now() - moment
        assert late < timedelta(seconds=5), f"the test clock ran {late} past {moment.isoformat()}"
        if late < timedelta(0):
            await self.env.skip_to(moment)

    async def open(self, name: str, severity: int, received_at: datetime) -> None:
        await self.at(received_at)
        self.cases[name] = case = await self.env.open(blockit_request(severity, received_at))
        await self.env.settled(case)

    async def act(self, moment: datetime, name: str, update: str, **args) -> None:
        """H is answered at 08:45, the moment its ladder's step 2 pages: the update waits for those pages."""
        await self.at(moment)
        await self.env.idle(self.cases[name])
        await self.env.update(self.cases[name], update, args)


async def drive_the_week(week: Week) -> None:
    """Every case and what happens to it, in the order the clock passes."""
    await week.open("I", 3, jan(6, 23))  # Sunday night: before the range, never counted
    await week.open("A", 1, jan(7, 10))
    await week.open("B", 2, jan(7, 10))
    await week.open("C", 3, jan(7, 10))
    await week.act(jan(7, 10, 20), "A", "respond", by="eng-1")  # A response met: 20 min (due 10:30)
    await week.act(jan(7, 10, 30), "C", "respond", by="eng-1")  # C response met: 30 business min (due 11:00)
    await week.act(jan(7, 11, 30), "B", "respond", by="eng-2")  # B breached at 11:00; done at 90 business min
    await week.act(jan(7, 12), "A", "resolve", by="eng-1", resolution="Restarted")  # A resolution met: 120 min
    await week.act(jan(7, 12, 5), "A", "close")
    await week.act(jan(7, 13), "B", "provide_workaround", by="eng-2", description="Use the old page")  # met: 180
    await week.act(jan(7, 14), "C", "pause", reason="waiting for logs")  # C's resolution clock stops…
    await week.open("D", 2, jan(7, 16, 30))
    await week.act(jan(8, 9), "B", "resolve", by="eng-2", resolution="Fixed")
    await week.act(jan(8, 9, 5), "B", "close")
    await week.act(jan(8, 9, 10), "D", "respond", by="eng-3")  # D response met: 30 + 10 = 40 business min
    await week.act(jan(8, 10), "D", "request_emergency", reason="Clinics cannot book")  # due Thu 10 10:00
    await week.open("E", 4, jan(8, 10))  # response due Fri 11 10:00 (7 + 8 + 8 + 1 business hours); never met
    await week.open("F", 3, jan(8, 11))
    await week.act(jan(8, 11, 5), "F", "close", reason="Spam: an advertisement")  # left out
    await week.open("G", 3, jan(8, 11, 10))
    await week.act(jan(8, 11, 15), "G", "close", reason="duplicate of an earlier case")  # left out
    await week.act(jan(8, 14), "C", "resume")  # …for 24 hours: due Sat 12 10:00 moves to Sun 13 10:00
    await week.open("H", 1, jan(9, 8))
    await week.act(jan(9, 8, 45), "H", "respond", by="eng-1")  # H breached at 08:30; done at 45 min
    await week.act(jan(9, 10), "C", "resolve", by="eng-1", resolution="Fixed")  # 48h − 24h paused = 1440 min
    await week.act(jan(9, 10, 1), "C", "close")
    # D resolution met: Mon 16:30 → Wed 10:02 = 2492 min (due Wed 16:30); emergency met: Tue 10:00 → 1442 min
    await week.act(jan(9, 10, 2), "D", "resolve", by="eng-3", resolution="Fixed")
    await week.act(jan(9, 13), "H", "resolve", by="eng-1", resolution="Fixed")  # breached at 12:00; done at 300
    await week.act(jan(9, 13, 5), "H", "close")
    await week.open("J", 1, jan(14, 9))  # Monday 14: the range's end is exclusive, never counted
    await week.env.skip_to(ASKED_AT)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def week_archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").create_database()
    return f"sqlite:///{tmp_path_factory.mktemp('week') / 'cases.sqlite'}"


@pytest_asyncio.fixture(scope="module")
async def week(week_archive: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Week]:
    root = tmp_path_factory.mktemp("records")
    with pytest.MonkeyPatch.context() as env:
        async with delivery_stand_ins(root, env) as (hooks, twilio, smtp):
            env.setenv(VARIABLE, week_archive)
            archive = Archive(week_archive)
            migrate(archive)
            server = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
            )
            await register_search_attributes(server.client)
            async with server, case_worker(server.client) as queue:
                env.setenv("TEMPORAL_ADDRESS", server.client.service_client.config.target_host)
                week = Week(CaseEnv(server, queue, hooks, twilio, smtp), archive, week_archive, root / "policies")
                await drive_the_week(week)
                yield week
            archive.dispose()
