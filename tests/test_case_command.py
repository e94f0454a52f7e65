"""The operator CLI (`supportflow case …`, `supportflow policy apply`) against a real dev server and the
production worker, with every delivery going to local receivers.

One dev server serves the whole module; each test opens its own cases. The
CLI runs `asyncio.run` itself, so it is called in a thread while the worker
polls on the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import yaml
from receivers import HttpReceiver, Reply, SmtpReceiver
from support import eventually, write_policies
from temporal_fixtures import case_worker
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.cli import main
from starter.commands.status_view import when
from starter.devserver import DevServer, free_port
from workflows.contracts import CaseStatus

pytestmark = pytest.mark.takes(18)  # seconds, about: the longest files start first (conftest)

CHICAGO = ZoneInfo("America/Chicago")
# A copy of blockit under its own tenant name, so `policy apply` meets only the cases its test opened.
POLICY_TENANT = "acme"


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def status(self) -> CaseStatus:
        return CaseStatus.model_validate_json(self.out)


@dataclass
class Fleet:
    policies: Path
    http: HttpReceiver
    twilio: HttpReceiver


@pytest_asyncio.fixture(scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    base = tmp_path_factory.mktemp("case-command")
    with pytest.MonkeyPatch.context() as env:
        async with (
            HttpReceiver() as http,
            HttpReceiver(default=Reply(201, json={"sid": "SMtest", "status": "queued"})) as twilio,
            SmtpReceiver() as smtp,
        ):
            env.setenv("SUPPORTFLOW_TWILIO_BASE_URL", twilio.base_url)
            env.setenv("TWILIO_ACCOUNT_SID", "ACtest00000000000000000000000000")
            env.setenv("TWILIO_AUTH_TOKEN", "twilio-test-token")
            env.setenv("SUPPORTFLOW_TWILIO_FROM", "+15555550199")
            for name in (
                "SUPPORTFLOW_SMTP_USER",
                "SUPPORTFLOW_SMTP_PASSWORD",
                "TEMPORAL_API_KEY",
                "TEMPORAL_TLS_CERT",
                "TEMPORAL_TLS_KEY",
                "TEMPORAL_TLS_CA",
            ):
                env.delenv(name, raising=False)
            for name, value in smtp.env().items():
                env.setenv(name, value)
            write_policies(base / "policies", http, {POLICY_TENANT: "blockit"})
            env.setenv("SUPPORTFLOW_POLICY_DIR", str(base / "policies"))

            async with DevServer(base / "temporal", ui=False) as server:
                client = await server.connect(data_converter=pydantic_data_converter)
                async with case_worker(client) as queue:
                    env.setenv("SUPPORTFLOW_TASK_QUEUE", queue)
                    env.setenv("TEMPORAL_ADDRESS", server.address)
                    env.setenv("TEMPORAL_NAMESPACE", "default")
                    yield Fleet(base / "policies", http, twilio)


@pytest.fixture
def cli(fleet: Fleet, capsys: pytest.CaptureFixture):
    async def run(*argv: str) -> Ran:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


async def open_blockit(cli, severity: int = 3, *extra: str, tenant: str = "blockit") -> str:
    opened = await cli(
        "case",
        "open",
        "--tenant",
        tenant,
        "--channel",
        "email",
        "--subject",
        "Scheduling page down",
        "--description",
        "The scheduling page shows an error.",
        "--email",
        "ana@clinic.example",
        "--name",
        "Ana Diaz",
        "--severity",
        str(severity),
        "--source-id",
        f"<{uuid.uuid4().hex}@mail.example>",
        *extra,
    )
    assert opened.code == 0, opened.err
    return opened.out.strip()


async def status_of(cli, case_id: str) -> CaseStatus:
    ran = await cli("case", "status", case_id, "--json")
    assert ran.code == 0, ran.err
    return ran.status()


def events(status: CaseStatus, name: str) -> list:
    return [entry for entry in status.timeline if entry.event == name]


# --- open and status ------------------------------------------------------------


async def test_case_open_prints_the_case_id_and_the_same_source_id_again_is_a_duplicate(cli):
    argv = [
        "case",
        "open",
        "--tenant",
        "blockit",
        "--channel",
        "email",
        "--subject",
        "Login fails",
        "--description",
        "Nobody can log in.",
        "--email",
        "ana@clinic.example",
        "--name",
        "Ana Diaz",
        "--phone",
        "+15555550123",
        "--company",
        "Clinic Co",
        "--severity",
        "2",
        "--time-critical",
        "--source-id",
        f"<{uuid.uuid4().hex}@mail.example>",
    ]
    first = await cli(*argv)
    assert first.code == 0 and first.err == ""
    case_id = first.out.strip()
    assert case_id.startswith("case-blockit-") and " " not in case_id

    again = await cli(*argv)
    assert again.code == 0 and again.out.split() == [case_id, "duplicate"]
    as_json = await cli(*argv, "--json")
    assert as_json.json() == {"case_id": case_id, "duplicate": True}

    status = await status_of(cli, case_id)
    assert (status.severity, status.time_critical, status.requester.company) == (2, True, "Clinic Co")


async def test_case_open_received_at_starts_the_clock(cli):
    friday_1630 = "2026-01-09T16:30:00-06:00"  # in the past: a future time would be clamped to now
    case_id = await open_blockit(cli, 3, "--received-at", friday_1630)
    status = await status_of(cli, case_id)
    assert status.received_at == datetime.fromisoformat(friday_1630)
    assert status.response_due_at == datetime(2026, 1, 12, 9, 30, tzinfo=CHICAGO), "Fri 16:30 + 1h business = Mon 09:30"


async def test_case_status_shows_state_clocks_in_the_tenant_zone_and_the_recent_timeline(cli):
    case_id = await open_blockit(cli, 2)
    status = await status_of(cli, case_id)
    assert status.case_id == case_id and status.state == "open" and status.severity_name == "High"

    text = await cli("case", "status", case_id)
    assert text.code == 0
    assert case_id in text.out and "Scheduling page down" in text.out
    assert "state      open" in text.out and "severity   2 High" in text.out
    assert "America/Chicago" in text.out
    assert f"due {when(status.response_due_at, CHICAGO)}" in text.out, "the response due time in Chicago time"
    assert "resolution" in text.out and "timeline (last" in text.out and "opened" in text.out


# --- updates ----------------------------------------------------------------------


async def test_respond_assign_severity_pause_comment_and_workaround_through_the_cli(cli):
    case_id = await open_blockit(cli, 3)

    answered = await cli("case", "respond", case_id, "--by", "eng-1", "--message", "Looking into it", "--json")
    assert answered.code == 0, answered.err
    assert answered.status().state == "responded" and answered.status().responded_at is not None

    assigned = await cli("case", "assign", case_id, "--to", "support-lead")
    assert assigned.code == 0 and "assign done" in assigned.out and "state responded" in assigned.out

    raised = (await cli("case", "severity", case_id, "--severity", "2", "--reason", "clinic-wide", "--json")).status()
    assert raised.severity == 2 and events(raised, "severity_changed")[-1].detail["reason"] == "clinic-wide"

    paused = (await cli("case", "pause", case_id, "--reason", "asked for logs", "--json")).status()
    assert paused.state == "waiting_on_customer" and paused.paused

    commented = await cli("case", "comment", case_id, "--author", "ana@clinic.example", "--text", "logs attached")
    assert commented.code == 0, commented.err

    async def resumed_by_requester():
        status = await status_of(cli, case_id)
        return status if status.state == "responded" else None

    status = await eventually(resumed_by_requester)
    assert status and events(status, "comment")[-1].detail["text"] == "logs attached"

    paused_again = (await cli("case", "pause", case_id, "--json")).status()
    assert paused_again.paused
    resumed = (await cli("case", "resume", case_id, "--json")).status()
    assert not resumed.paused and resumed.state == "responded"

    worked_around = await cli(
        "case",
        "workaround",
        case_id,
        "--by",
        "eng-1",
        "--description",
        "fixed the row",
        "--kind",
        "data_correction",
        "--json",
    )
    assert worked_around.code == 0, worked_around.err
    after = worked_around.status()
    assert after.state == "workaround_provided"
    assert events(after, "workaround_provided")[-1].detail["kind"] == "data_correction"


async def test_emergency_amend_resolve_reopen_and_close_through_the_cli(cli):
    case_id = await open_blockit(cli, 2)

    emergency = (await cli("case", "emergency", case_id, "--reason", "clinic closed", "--json")).status()
    assert emergency.emergency_requested_at is not None and emergency.emergency_due_at is not None
    assert emergency.emergency_due_at - emergency.emergency_requested_at == timedelta(hours=48)

    amended = (await cli("case", "amend", case_id, "--company", "Clinic Co", "--worked-with", "Jo", "--json")).status()
    assert amended.requester.company == "Clinic Co" and amended.requester.email == "ana@clinic.example"
    assert events(amended, "amended")[-1].detail["fields"] == ["requester.company", "worked_with"]

    resolved = (
        await cli("case", "resolve", case_id, "--by", "eng-1", "--resolution", "restarted the service", "--json")
    ).status()
    assert resolved.state == "resolved" and resolved.resolved_at is not None

    reopened = (await cli("case", "reopen", case_id, "--reason", "it came back", "--json")).status()
    assert reopened.state == "responded" and reopened.resolved_at is None

    await cli("case", "resolve", case_id, "--by", "eng-1", "--resolution", "patched")
    closed = await cli("case", "close", case_id)
    assert closed.code == 0 and "state closed" in closed.out

    final = await status_of(cli, case_id)
    assert final.state == "closed" and final.closed_at is not None, "a closed case still answers status"
    again = await cli("case", "respond", case_id, "--by", "eng-1")
    assert again.code == 1 and again.err.startswith("supportflow case respond: rejected: ")
    assert "closed" in again.err


async def test_ack_stops_the_blub0x_emergency_line_rotation(cli, fleet):
    opened = await cli(
        "case",
        "open",
        "--tenant",
        "blub0x",
        "--channel",
        "emergency_line",
        "--name",
        "Sam Lee",
        "--phone",
        "+15555550142",
        "--description",
        "Every door controller is offline.",
    )
    case_id = opened.out.strip()

    async def paging():
        status = await status_of(cli, case_id)
        return status if "emergency_intake" in status.escalation.running else None

    assert await eventually(paging), "an emergency-line case pages on-call at once"
    acknowledged = await cli("case", "ack", case_id, "--by", "oncall-1", "--json")
    assert acknowledged.code == 0, acknowledged.err
    escalation = acknowledged.status().escalation
    assert (
        escalation.running == [] and escalation.acknowledged_by == "oncall-1" and escalation.outcome == "acknowledged"
    )

    twice = await cli("case", "acknowledge", case_id, "--by", "oncall-2")
    assert twice.code == 1
    assert (
        twice.err.strip()
        == "supportflow case acknowledge: rejected: cannot acknowledge: no escalation ladder is running"
    )


async def test_escalate_runs_the_blub0x_customer_escalation_ladder(cli):
    opened = await cli(
        "case",
        "open",
        "--tenant",
        "blub0x",
        "--channel",
        "email",
        "--name",
        "Sam Lee",
        "--email",
        "sam@tower.example",
        "--company",
        "Tower Co",
        "--building",
        "Tower One",
        "--phone",
        "+15555550142",
        "--description",
        "Badges fail.",
    )
    case_id = opened.out.strip()
    escalated = await cli(
        "case", "escalate", case_id, "--reason", "no answer for a day", "--new-installation", "--json"
    )
    assert escalated.code == 0, escalated.err
    status = escalated.status()
    assert status.new_installation and "customer_escalation" in status.escalation.running

    again = await cli("case", "request-escalation", case_id, "--reason", "still nothing")
    assert again.code == 1 and "already running" in again.err


# --- errors ------------------------------------------------------------------------


async def test_a_rejected_update_exits_1_with_the_reason_and_leaves_the_case_alone(cli):
    case_id = await open_blockit(cli, 4)
    refused = await cli("case", "reopen", case_id, "--reason", "why not")
    assert refused.code == 1 and refused.out == ""
    assert (
        refused.err.strip()
        == "supportflow case reopen: rejected: cannot reopen: the case is open; only a resolved case reopens"
    )
    assert (await status_of(cli, case_id)).state == "open"

    unknown_severity = await cli("case", "set-severity", case_id, "--severity", "9")
    assert unknown_severity.code == 1 and "has no severity 9" in unknown_severity.err


async def test_an_unknown_case_exits_1_naming_it(cli):
    for argv in (["status"], ["respond", "--by", "eng"], ["comment", "--author", "eng", "--text", "hi"]):
        ran = await cli("case", argv[0], "case-blockit-000000000000000000000000", *argv[1:])
        assert ran.code == 1, (argv, ran)
        assert "no case case-blockit-000000000000000000000000" in ran.err and "Traceback" not in ran.err


async def test_bad_options_exit_2_naming_the_option(cli):
    blank = await cli("case", "respond", "case-blockit-x", "--by", "")
    assert blank.code == 2 and blank.err.startswith("supportflow case respond: --by: ")
    naive = await cli(
        "case", "open", "--tenant", "blockit", "--channel", "email", "--received-at", "2027-01-08T16:30:00"
    )
    assert naive.code == 2 and "--received-at: " in naive.err and "timezone" in naive.err
    no_such_severity = await cli("case", "open", "--tenant", "blockit", "--channel", "email", "--severity", "7")
    assert no_such_severity.code == 2 and "--severity: blockit has no severity 7" in no_such_severity.err
    no_such_tenant = await cli("case", "open", "--tenant", "nobody", "--channel", "email")
    assert no_such_tenant.code == 2 and "--tenant: no policy for tenant 'nobody'" in no_such_tenant.err
    with pytest.raises(SystemExit) as argparse_exit:
        await cli("case", "workaround", "case-blockit-x", "--by", "eng", "--description", "d", "--kind", "magic")
    assert argparse_exit.value.code == 2


async def test_an_unreachable_server_is_one_line_naming_temporal_address(cli, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    ran = await cli("case", "list")
    assert ran.code == 1 and len(ran.err.strip().splitlines()) == 1
    assert "TEMPORAL_ADDRESS" in ran.err and "cannot reach Temporal" in ran.err


# --- the fleet ---------------------------------------------------------------------


async def test_case_list_filters_open_cases_by_tenant_severity_state_and_breach(cli):
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    breached = await open_blockit(cli, 1, "--received-at", two_hours_ago)  # 30 min response target: breached at once
    fresh = await open_blockit(cli, 4)

    async def listed(*filters: str) -> set[str]:
        ran = await cli("case", "list", *filters, "--json")
        assert ran.code == 0, ran.err
        return {row["case_id"] for row in ran.json()}

    async def shows(want: set[str], *filters: str, absent: set[str] = frozenset()) -> bool:
        async def check():
            found = await listed(*filters)
            return want <= found and not (absent & found)

        return await eventually(check)

    assert await shows({breached}, "--tenant", "blockit", "--breached", absent={fresh})
    assert await shows({fresh}, "--tenant", "blockit", "--not-breached", absent={breached})
    assert await shows({fresh}, "--severity", "4", absent={breached})
    assert await shows({breached, fresh}, "--tenant", "blockit", "--state", "open")
    assert await shows(set(), "--tenant", "blub0x", absent={breached, fresh})

    rows = {row["case_id"]: row for row in (await cli("case", "list", "--tenant", "blockit", "--json")).json()}
    assert rows[breached]["sla_breached"] is True and rows[breached]["severity"] == 1
    assert rows[fresh]["tenant"] == "blockit" and rows[fresh]["state"] == "open" and rows[fresh]["next_due_at"]

    table = await cli("case", "list", "--tenant", "blockit", "--severity", "1", "--breached")
    header, *lines = table.out.splitlines()
    assert header.split() == ["CASE", "SUBJECT", "SEV", "STATE", "ASSIGNEE", "NEXT", "DUE", "BREACHED"]
    assert any(line.split()[0] == breached and line.split()[-1] == "yes" for line in lines)

    await cli("case", "close", fresh, "--reason", "duplicate")
    assert await shows(set(), "--tenant", "blockit", absent={fresh}), "the default list shows open cases only"
    assert await shows({fresh}, "--state", "closed")
    assert len((await cli("case", "list", "--limit", "1", "--json")).json()) == 1


# --- policy apply --------------------------------------------------------------------


def _changed_copy(fleet: Fleet, tmp_path: Path, **severities) -> Path:
    policy = yaml.safe_load((fleet.policies / f"{POLICY_TENANT}.yaml").read_text())
    for level, target in severities.items():
        if target is None:
            del policy["severities"][int(level.removeprefix("sev"))]
        else:
            policy["severities"][int(level.removeprefix("sev"))]["response"] = target
    path = tmp_path / f"{POLICY_TENANT}-changed.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


async def test_policy_apply_moves_an_open_case_deadline_and_names_each_rejected_case(cli, fleet, tmp_path):
    medium = await open_blockit(cli, 3, tenant=POLICY_TENANT)
    low = await open_blockit(cli, 4, tenant=POLICY_TENANT)
    before = await status_of(cli, medium)

    async def both_listed():
        ran = await cli("case", "list", "--tenant", POLICY_TENANT, "--json")
        return {medium, low} <= {row["case_id"] for row in ran.json()}

    assert await eventually(both_listed)
    changed = _changed_copy(fleet, tmp_path, sev3={"within": "30m", "clock": "24x7"}, sev4=None)

    dry = await cli("policy", "apply", str(changed), "--dry-run")
    assert dry.code == 0 and f"{medium}: would apply" in dry.out and "dry run" in dry.out
    assert not events(await status_of(cli, medium), "policy_applied"), "a dry run changes nothing"

    applied = await cli("policy", "apply", str(changed))
    assert applied.code == 1, "one case was rejected"
    assert f"{medium}: applied" in applied.out
    assert f"{low}: rejected: cannot apply a policy: it has no severity 4, which this case has" in applied.out
    assert f"{POLICY_TENANT} ({changed}): applied 1, rejected 1" in applied.out

    after = await status_of(cli, medium)
    assert after.response_due_at == after.received_at + timedelta(minutes=30) != before.response_due_at
    assert events(after, "policy_applied")
    assert not events(await status_of(cli, low), "policy_applied")


async def test_policy_apply_on_a_bad_file_exits_2_naming_file_and_field(cli, fleet, tmp_path):
    policy = yaml.safe_load((fleet.policies / "blockit.yaml").read_text())
    policy["severities"][3]["response"]["within"] = "soon"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(policy, sort_keys=False))
    ran = await cli("policy", "apply", str(bad))
    assert ran.code == 2 and ran.out == ""
    assert ran.err.startswith(f"{bad}: severities.3.response.within: ")
