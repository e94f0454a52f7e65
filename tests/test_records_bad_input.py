"""Bad input to the report, the what-if and the archive: a clear message naming the field, exit status 2 or a 422;
an unreachable database named by its URL, never with its password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from starter.devserver import free_port
from starter.gateway.app import create_app
from starter.gateway.settings import GatewaySettings, parse_api_keys

pytestmark = pytest.mark.takes(10)  # seconds, about: the longest files start first (conftest)

REPO = Path(__file__).resolve().parent.parent
SECRET = "hunter2-archive"


def supportflow(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SUPPORTFLOW_POLICY_DIR": str(REPO / "policies"), **env}
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args], capture_output=True, text=True, cwd=REPO, env=environment
    )


def unreachable_url() -> str:
    return f"postgresql+psycopg://support:{SECRET}@127.0.0.1:{free_port()}/cases"


@pytest.mark.parametrize(
    ("tenant", "start", "end", "says"),
    [
        ("nobody", "2030-01-07", "2030-01-14", "--tenant: unknown tenant 'nobody'"),
        ("blockit", "2030-01-14", "2030-01-07", "--to: 2030-01-07 is not after from (2030-01-14)"),
        ("blockit", "2030-01-07", "2030-01-07", "--to: 2030-01-07 is not after from"),
        ("blockit", "last monday", "2030-01-14", "--from: 'last monday' is not a date like 2030-01-07"),
        ("blockit", "2030-01-07", "2030-02-30", "--to: '2030-02-30' is not a date"),
    ],
)
def test_report_sla_refuses_an_unknown_tenant_or_a_bad_range_with_exit_status_2(tenant, start, end, says):
    done = supportflow("report", "sla", "--tenant", tenant, "--from", start, "--to", end, "--json")
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_policy_simulate_refuses_a_file_that_fails_policy_check(tmp_path):
    policy = yaml.safe_load((REPO / "policies" / "blockit.yaml").read_text())
    policy["severities"][2]["response"]["within"] = "2d"  # days on a business clock
    file = tmp_path / "broken.yaml"
    file.write_text(yaml.safe_dump(policy))
    done = supportflow("policy", "simulate", str(file), "--from", "2030-01-07", "--to", "2030-01-14")
    assert done.returncode == 2
    assert "fails policy check" in done.stderr and "severities.2.response" in done.stderr


def test_policy_simulate_refuses_an_unknown_tenant_and_a_bad_range(tmp_path):
    policy = yaml.safe_load((REPO / "policies" / "blockit.yaml").read_text())
    file = tmp_path / "nobody.yaml"
    file.write_text(yaml.safe_dump(policy | {"tenant": "nobody"}))
    done = supportflow("policy", "simulate", str(file), "--from", "2030-01-07", "--to", "2030-01-14")
    assert done.returncode == 2 and "--tenant: unknown tenant 'nobody'" in done.stderr
    blockit = str(REPO / "policies" / "blockit.yaml")
    done = supportflow("policy", "simulate", blockit, "--from", "2030-01-14", "--to", "2030-01-01")
    assert done.returncode == 2 and "--to: 2030-01-01 is not after from" in done.stderr


def test_an_unreachable_archive_is_named_by_its_url_without_the_password():
    url = unreachable_url()
    for args in (
        ("report", "sla", "--tenant", "blockit", "--from", "2030-01-07", "--to", "2030-01-14"),
        ("archive", "migrate"),
    ):
        done = supportflow(*args, SUPPORTFLOW_ARCHIVE_URL=url)
        assert done.returncode == 1, done.stderr
        assert "postgresql+psycopg://support:***@127.0.0.1:" in done.stderr and "cannot be reached" in done.stderr
        assert SECRET not in done.stderr + done.stdout


def test_an_archive_url_on_an_unsupported_database_exits_2():
    done = supportflow("archive", "migrate", SUPPORTFLOW_ARCHIVE_URL=f"mysql://support:{SECRET}@db/cases")
    assert done.returncode == 2 and "sqlite or postgresql" in done.stderr and SECRET not in done.stderr


async def test_get_reports_sla_names_the_field_in_a_422_and_the_archive_in_a_503(monkeypatch):
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(REPO / "policies"))

    async def no_temporal():
        raise AssertionError("a refused request asks Temporal nothing")

    app = create_app(no_temporal, GatewaySettings(api_keys=parse_api_keys("op-key=operate")))
    headers = {"Authorization": "Bearer op-key"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as http:
        for query, field in [
            ({"tenant": "nobody", "from": "2030-01-07", "to": "2030-01-14"}, "tenant"),
            ({"from": "2030-01-07", "to": "2030-01-14"}, "tenant"),
            ({"tenant": "blockit", "from": "soon", "to": "2030-01-14"}, "from"),
            ({"tenant": "blockit", "from": "2030-01-07"}, "to"),
            ({"tenant": "blockit", "from": "2030-01-14", "to": "2030-01-07"}, "to"),
        ]:
            answer = await http.get("/v1/reports/sla", params=query, headers=headers)
            assert answer.status_code == 422, (query, answer.text)
            assert [f["field"] for f in answer.json()["fields"]] == [field], answer.json()

        monkeypatch.setenv("SUPPORTFLOW_ARCHIVE_URL", unreachable_url())
        query = {"tenant": "blockit", "from": "2030-01-07", "to": "2030-01-14"}
        answer = await http.get("/v1/reports/sla", params=query, headers=headers)
        assert answer.status_code == 503
        assert "support:***@127.0.0.1" in answer.json()["error"] and SECRET not in answer.text


def test_up_exits_naming_an_unreachable_archive_before_starting_anything(tmp_path):
    done = supportflow("up", "--data-dir", str(tmp_path / "data"), SUPPORTFLOW_ARCHIVE_URL=unreachable_url())
    assert done.returncode == 2, done.stderr
    assert "supportflow up: the case archive at postgresql+psycopg://support:***@127.0.0.1:" in done.stderr
    assert SECRET not in done.stderr and not (tmp_path / "data" / "temporal.sqlite").exists()
