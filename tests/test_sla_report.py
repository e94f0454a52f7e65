"""The SLA report over a week of blockit cases driven through the workflow (tests/records_scenario.py), every
figure worked out by hand; the same report from the CLI and from the gateway; and bad input refused."""

from __future__ import annotations

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import httpx
import pytest
from postgres_fixtures import postgres  # noqa: F401
from records_scenario import ASKED_AT, FROM, TO, Week, week, week_archive  # noqa: F401

from archive.report import sla_report
from starter.gateway.app import create_app
from starter.gateway.settings import GatewaySettings, parse_api_keys
from starter.records import tenant_policy, with_holidays

pytestmark = pytest.mark.takes(10)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).resolve().parent.parent


async def supportflow(*args: str) -> tuple[int, str, str]:
    """The CLI in a child process; asynchronously, so the worker in this process keeps answering queries."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter.cli", *args, cwd=REPO, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(child.communicate(), 120)
    return child.returncode, out.decode(), err.decode()


def figures(met, breached, pending, met_pct, median, p90) -> dict:
    return dict(met=met, breached=breached, pending=pending, met_pct=met_pct, median_minutes=median, p90_minutes=p90)


async def expected_report(week: Week) -> dict:
    """Counted: A B C D E H. Left out: F (spam), G (duplicate), I (Sun 6, before), J (Mon 14, the end is exclusive)."""
    return {
        "tenant": "blockit",
        "from": "2030-01-07",
        "to": "2030-01-14",
        "timezone": "America/Chicago",
        "severities": [
            {
                "severity": 1,
                "name": "Critical",
                "cases": 2,  # A, H
                # A met at 20 min; H breached at 08:30, done at 45 min. 1 / 2 = 50.0 %.
                # Nearest rank over [20, 45]: median rank ⌈0.5·2⌉ = 1 → 20; p90 rank ⌈0.9·2⌉ = 2 → 45.
                "response": figures(1, 1, 0, 50.0, 20.0, 45.0),
                # A met at 120 min (12:00, due 14:00); H breached at 12:00, resolved 13:00: 300 min.
                "resolution": figures(1, 1, 0, 50.0, 120.0, 300.0),
                "emergency": None,  # Sev 1 has no emergency target
            },
            {
                "severity": 2,
                "name": "High",
                "cases": 2,  # B, D
                # B breached at 11:00, answered 11:30: 90 business min; D met Tue 09:10: 30 (Mon) + 10 (Tue) = 40.
                "response": figures(1, 1, 0, 50.0, 40.0, 90.0),
                # B met by its workaround at 13:00 (180 min, before Wed 10:00); D resolved Wed 10:02: 2492 min.
                "resolution": figures(2, 0, 0, 100.0, 180.0, 2492.0),
                # D asked Tue 10:00 (due Thu 10:00), resolved Wed 10:02: 1442 min. B never asked: not counted.
                "emergency": figures(1, 0, 0, 100.0, 1442.0, 1442.0),
            },
            {
                "severity": 3,
                "name": "Medium",
                "cases": 1,  # C (F and G were closed as spam and duplicate)
                "response": figures(1, 0, 0, 100.0, 30.0, 30.0),  # 10:00 → 10:30, business minutes
                # Mon 10:00 → Wed 10:00 is 2880 min, less the 1440 min paused (Mon 14:00 → Tue 14:00).
                "resolution": figures(1, 0, 0, 100.0, 1440.0, 1440.0),
                "emergency": None,
            },
            {
                "severity": 4,
                "name": "Low",
                "cases": 1,  # E, still open: its live status counts
                # Breached Fri 11 10:00 and never answered: no minutes; 0 / 1 met = 0.0 %.
                "response": figures(0, 1, 0, 0.0, None, None),
                # Due Fri 18 10:00, after the report was asked: pending; nothing met or breached, so no met_pct.
                "resolution": figures(0, 0, 1, None, None, None),
                "emergency": None,
            },
        ],
        "total": {
            "cases": 6,
            # met A C D, breached B E H: 50.0 %. Minutes [20, 30, 40, 45, 90]: median rank 3 → 40, p90 rank 5 → 90.
            "response": figures(3, 3, 0, 50.0, 40.0, 90.0),
            # met A B C D, breached H, pending E: 4 / 5 = 80.0 %.
            # Minutes [120, 180, 300, 1440, 2492]: median rank 3 → 300, p90 rank ⌈4.5⌉ = 5 → 2492.
            "resolution": figures(4, 1, 1, 80.0, 300.0, 2492.0),
        },
        # Every case with any breach, by received_at then case_id: B (Mon 10:00), E (Tue 10:00), H (Wed 08:00).
        "breached": [week.id("B"), week.id("E"), week.id("H")],
    }


async def test_the_sla_report_counts_the_week_as_worked_out_by_hand(week: Week):
    policy = tenant_policy("blockit")
    report = sla_report(await week.statuses(), with_holidays(policy, FROM, TO), FROM, TO, ASKED_AT)
    assert report.model_dump(mode="json") == await expected_report(week)


async def test_open_cases_count_with_their_live_state_not_their_opening_row(week: Week):
    """E's archived row is its opening (pending everywhere); Temporal's live status has its response breach."""
    opening = week.archive.status(week.id("E"))
    assert opening.state == "open" and opening.breaches == []
    live = {s.case_id: s for s in await week.statuses()}[week.id("E")]
    assert live.breaches == ["response"]


async def test_report_sla_prints_the_same_report_as_json_csv_and_a_table(week: Week):
    expected = await expected_report(week)
    base = ["report", "sla", "--tenant", "blockit", "--from", "2030-01-07", "--to", "2030-01-14"]
    code, out, err = await supportflow(*base, "--json")
    assert code == 0, err
    assert json.loads(out) == expected, err

    code, out, err = await supportflow(*base, "--csv")
    lines = out.splitlines()
    assert lines[0] == "severity,name,target,cases,met,breached,pending,met_pct,median_minutes,p90_minutes"
    assert "2,High,emergency,1,1,0,0,100.0,1442.0,1442.0" in lines
    assert "4,Low,resolution,1,0,0,1,,," in lines
    assert "total,,resolution,6,4,1,1,80.0,300.0,2492.0" in lines

    code, table, err = await supportflow(*base)
    assert code == 0, err
    assert "6 cases" in table and f"breached (3): {week.id('B')}" in table


async def test_get_reports_sla_answers_the_report_to_an_operate_key(week: Week):
    expected = await expected_report(week)

    async def same_client():
        return week.env.client

    app = create_app(same_client, GatewaySettings(api_keys=parse_api_keys("op-key=operate,in-key=intake")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as http:
        operate, intake = {"Authorization": "Bearer op-key"}, {"Authorization": "Bearer in-key"}
        query = {"tenant": "blockit", "from": "2030-01-07", "to": "2030-01-14"}
        answer = await http.get("/v1/reports/sla", params=query, headers=operate)
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected
        assert (await http.get("/v1/reports/sla", params=query, headers=intake)).status_code == 403
        assert (await http.get("/v1/reports/sla", params=query)).status_code == 401
