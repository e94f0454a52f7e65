"""`policy simulate`: the week's recorded moments (tests/records_scenario.py) under a proposed policy. With the
policy the cases ran under every outcome is the recorded one; a tighter and a looser target change exactly the
cases worked out here by hand."""

from __future__ import annotations

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from datetime import UTC, datetime
from pathlib import Path

import yaml
from postgres_fixtures import postgres  # noqa: F401
from records_scenario import ASKED_AT, FROM, TO, Week, week, week_archive  # noqa: F401

from archive.whatif import simulate
from starter.records import with_holidays
from tenant_policies import read_policy_file

REPO = Path(__file__).resolve().parent.parent


def proposed(week: Week, tmp_path: Path, change) -> Path:
    policy = yaml.safe_load((week.policy_dir / "blockit.yaml").read_text())
    change(policy["severities"])
    path = tmp_path / "proposed.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


async def what_if(week: Week, file: Path, now: datetime = ASKED_AT) -> dict:
    loaded = with_holidays(read_policy_file(file), FROM, TO)
    return simulate(await week.statuses(), loaded, FROM, TO, "America/Chicago", now).model_dump(mode="json")


def row(severity, target, cases, recorded, proposed) -> dict:
    return dict(severity=severity, target=target, cases=cases, recorded_breaches=recorded, proposed_breaches=proposed)


# Recorded breaches: Sev 1 response and resolution (H), Sev 2 response (B), Sev 4 response (E, still open).
RECORDED = [
    row(1, "response", 2, 1, 1),
    row(1, "resolution", 2, 1, 1),
    row(2, "response", 2, 1, 1),
    row(2, "resolution", 2, 0, 0),
    row(2, "emergency", 1, 0, 0),  # only D asked for emergency maintenance
    row(3, "response", 1, 0, 0),
    row(3, "resolution", 1, 0, 0),
    row(4, "response", 1, 1, 1),
    row(4, "resolution", 1, 0, 0),
]


async def test_simulate_with_the_policy_the_cases_ran_under_gives_exactly_the_recorded_outcomes(week: Week):
    outcome = await what_if(week, week.policy_dir / "blockit.yaml")
    assert outcome == {
        "tenant": "blockit",
        "from": "2030-01-07",
        "to": "2030-01-14",
        "targets": RECORDED,
        "changed": [],
    }


async def test_a_tighter_response_target_breaches_the_cases_answered_within_the_old_one(week: Week, tmp_path):
    def tighter(severities):
        severities[2]["response"]["within"] = "30m"  # business: B due 10:30 (answered 11:30), D due Mon 17:00
        severities[3]["response"]["within"] = "15m"  # business: C due 10:15, answered 10:30

    outcome = await what_if(week, proposed(week, tmp_path, tighter))
    expected = [dict(r) for r in RECORDED]
    expected[2]["proposed_breaches"] = 2  # B still breached, D now breached too
    expected[5]["proposed_breaches"] = 1  # C
    assert outcome["targets"] == expected
    assert outcome["changed"] == [  # by received_at: C (Mon 10:00), D (Mon 16:30)
        {"case_id": week.id("C"), "target": "response", "recorded": "met", "proposed": "breached"},
        {"case_id": week.id("D"), "target": "response", "recorded": "met", "proposed": "breached"},
    ]


async def test_looser_targets_meet_what_was_breached_and_a_missing_target_is_none(week: Week, tmp_path):
    def looser(severities):
        severities[1]["response"]["within"] = "1h"  # 24x7: H due 09:00, answered 08:45
        severities[1]["resolution"]["within"] = "8h"  # 24x7: H due 16:00, resolved 13:00
        severities[4]["response"]["within"] = "48h"  # business from Tue 10:00: due Wed 16 10:00, after ASKED_AT
        del severities[2]["emergency"]  # D's emergency request has no target to be judged against

    outcome = await what_if(week, proposed(week, tmp_path, looser))
    expected = [dict(r) for r in RECORDED]
    expected[0]["proposed_breaches"] = expected[1]["proposed_breaches"] = 0
    expected[7]["proposed_breaches"] = 0
    assert outcome["targets"] == expected
    assert outcome["changed"] == [  # D (Mon 16:30), E (Tue 10:00), H (Wed 08:00)
        {"case_id": week.id("D"), "target": "emergency", "recorded": "met", "proposed": "none"},
        {"case_id": week.id("E"), "target": "response", "recorded": "breached", "proposed": "pending"},
        {"case_id": week.id("H"), "target": "response", "recorded": "breached", "proposed": "met"},
        {"case_id": week.id("H"), "target": "resolution", "recorded": "breached", "proposed": "met"},
    ]


async def test_policy_simulate_prints_the_what_if_as_json_and_as_a_table(week: Week, tmp_path):
    def tighter(severities):
        severities[3]["response"]["within"] = "15m"

    file = proposed(week, tmp_path, tighter)
    args = ["policy", "simulate", str(file), "--from", "2030-01-07", "--to", "2030-01-14"]
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter.cli", *args, "--json", cwd=REPO, stdout=PIPE, stderr=PIPE
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    # The command judges open cases as of its own clock; so does this comparison.
    assert json.loads(out) == await what_if(week, file, datetime.now(UTC))
    assert {"case_id": week.id("C"), "target": "response", "recorded": "met", "proposed": "breached"} in json.loads(
        out
    )["changed"]

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter.cli", *args, cwd=REPO, stdout=PIPE, stderr=PIPE
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    assert f"{week.id('C')}  response: met → breached" in out.decode()
