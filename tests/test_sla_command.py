"""`supportflow sla`: the deadlines a case received at a given moment would get, no server needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from starter.cli import main
from workflows.contracts import CaseStatus

REPO = Path(__file__).resolve().parent.parent
FRIDAY_1630 = "2027-01-08T16:30:00-06:00"


@pytest.fixture(autouse=True)
def policy_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(REPO / "policies"))


def sla(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["sla", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sla_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = sla(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_blockit_sev3_friday_1630_text(capsys: pytest.CaptureFixture[str]):
    code, out, err = sla(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", FRIDAY_1630)
    assert code == 0, err
    assert err == ""
    assert "Sev3 Medium" in out
    assert "response due    2027-01-11T09:30:00-06:00" in out
    assert "resolution due  2027-01-13T16:30:00-06:00" in out
    assert "response warning at 2027-01-11T09:15:00-06:00" in out
    assert "emergency due" not in out


def test_blockit_sev3_friday_1630_json(capsys: pytest.CaptureFixture[str]):
    result = sla_json(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", FRIDAY_1630)
    assert result["tenant"] == "blockit"
    assert result["severity"] == 3
    assert result["severity_name"] == "Medium"
    assert result["received_at"] == FRIDAY_1630
    assert result["response_due_at"] == "2027-01-11T09:30:00-06:00"
    assert result["resolution_due_at"] == "2027-01-13T16:30:00-06:00"  # 5d, 24x7
    assert result["emergency_requested_at"] is None
    assert result["emergency_due_at"] is None
    assert result["response_warning_at"] == ["2027-01-11T09:15:00-06:00"]
    assert result["resolution_warning_at"] == ["2027-01-12T10:30:00-06:00"]  # 0.75 × 5d = 90h
    assert "emergency_warning_at" not in result


def test_json_time_fields_are_the_case_status_fields(capsys: pytest.CaptureFixture[str]):
    result = sla_json(
        capsys,
        "--tenant",
        "blockit",
        "--severity",
        "2",
        "--received-at",
        FRIDAY_1630,
        "--emergency-at",
        "2027-01-09T10:00:00-06:00",
    )
    time_fields = {"received_at", "response_due_at", "resolution_due_at", "emergency_requested_at", "emergency_due_at"}
    assert time_fields <= set(result)
    assert time_fields <= set(CaseStatus.model_fields)
    for name in time_fields:
        assert datetime.fromisoformat(result[name]).utcoffset() is not None, name


def test_sev2_emergency_due_48h_after_the_request(capsys: pytest.CaptureFixture[str]):
    requested = "2027-01-09T10:00:00-06:00"
    result = sla_json(
        capsys, "--tenant", "blockit", "--severity", "2", "--received-at", FRIDAY_1630, "--emergency-at", requested
    )
    assert result["emergency_requested_at"] == requested
    assert result["emergency_due_at"] == "2027-01-11T10:00:00-06:00"
    assert instant(result["emergency_due_at"]) - instant(requested) == timedelta(hours=48)
    assert result["emergency_warning_at"] == ["2027-01-10T22:00:00-06:00"]  # 0.75 × 48h
    assert result["resolution_due_at"] == "2027-01-10T16:30:00-06:00"  # 2d, 24x7
    assert result["response_due_at"] == "2027-01-11T09:30:00-06:00"


def test_sev2_emergency_across_spring_forward_is_48_elapsed_hours(capsys: pytest.CaptureFixture[str]):
    requested = "2027-03-13T10:00:00-06:00"
    result = sla_json(
        capsys,
        "--tenant",
        "blockit",
        "--severity",
        "2",
        "--received-at",
        "2027-03-12T16:00:00-06:00",
        "--emergency-at",
        requested,
    )
    assert result["emergency_due_at"] == "2027-03-15T11:00:00-05:00"
    assert instant(result["emergency_due_at"]) - instant(requested) == timedelta(hours=48)


def test_24x7_resolution_across_spring_forward_is_elapsed_time(capsys: pytest.CaptureFixture[str]):
    received = "2027-03-10T12:00:00-06:00"
    result = sla_json(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", received)
    assert result["resolution_due_at"] == "2027-03-15T13:00:00-05:00"
    assert instant(result["resolution_due_at"]) - instant(received) == timedelta(days=5)


def test_text_shows_emergency_due(capsys: pytest.CaptureFixture[str]):
    code, out, err = sla(
        capsys,
        "--tenant",
        "blockit",
        "--severity",
        "2",
        "--received-at",
        FRIDAY_1630,
        "--emergency-at",
        "2027-01-09T10:00:00-06:00",
    )
    assert code == 0, err
    assert "emergency due   2027-01-11T10:00:00-06:00" in out


def test_received_at_in_another_offset_gives_the_same_deadlines(capsys: pytest.CaptureFixture[str]):
    chicago = sla_json(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", FRIDAY_1630)
    utc = sla_json(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", "2027-01-08T22:30:00Z")
    assert utc == chicago


def test_blub0x_saturday_regular_request_due_monday_noon_eastern(capsys: pytest.CaptureFixture[str]):
    result = sla_json(capsys, "--tenant", "blub0x", "--severity", "2", "--received-at", "2027-01-09T14:00:00-05:00")
    assert result["response_due_at"] == "2027-01-11T12:00:00-05:00"
    assert result["response_warning_at"] == ["2027-01-11T11:00:00-05:00"]


def test_time_without_offset_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    code, out, err = sla(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", "2027-01-08T16:30:00")
    assert code == 2
    assert out == ""
    assert "--received-at" in err and "offset" in err
    assert "Traceback" not in err


def test_emergency_at_without_offset_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    code, _, err = sla(
        capsys,
        "--tenant",
        "blockit",
        "--severity",
        "2",
        "--received-at",
        FRIDAY_1630,
        "--emergency-at",
        "2027-01-09T10:00",
    )
    assert code == 2
    assert "--emergency-at" in err and "offset" in err


def test_time_that_is_not_iso_8601_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    code, _, err = sla(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", "next friday")
    assert code == 2
    assert "--received-at" in err and "ISO 8601" in err


def test_unknown_severity_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    code, out, err = sla(capsys, "--tenant", "blockit", "--severity", "9", "--received-at", FRIDAY_1630)
    assert code == 2
    assert out == ""
    assert "--severity" in err and "9" in err and "1, 2, 3, 4" in err


def test_emergency_on_a_severity_without_emergency_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    code, _, err = sla(
        capsys,
        "--tenant",
        "blockit",
        "--severity",
        "3",
        "--received-at",
        FRIDAY_1630,
        "--emergency-at",
        "2027-01-09T10:00:00-06:00",
    )
    assert code == 2
    assert "--emergency-at" in err


def test_unknown_tenant_is_an_error_without_traceback(capsys: pytest.CaptureFixture[str]):
    code, _, err = sla(capsys, "--tenant", "nobody", "--severity", "3", "--received-at", FRIDAY_1630)
    assert code == 2
    assert "nobody.yaml" in err
    assert "Traceback" not in err


def test_a_moment_in_the_past_works(capsys: pytest.CaptureFixture[str]):
    # Thu 2015-12-24 16:30, Sev 4 (24h business): 0.5h, Christmas, weekend, 8h Mon, 8h Tue, 7.5h Wed.
    result = sla_json(capsys, "--tenant", "blockit", "--severity", "4", "--received-at", "2015-12-24T16:30:00-06:00")
    assert result["response_due_at"] == "2015-12-30T16:30:00-06:00"
    assert result["resolution_due_at"] == "2016-01-03T16:30:00-06:00"


def test_a_moment_in_the_future_works(capsys: pytest.CaptureFixture[str]):
    # Tue 2030-12-24 16:30, Sev 4: 0.5h, Christmas Wed, 8h Thu, 8h Fri, 7.5h Mon.
    result = sla_json(capsys, "--tenant", "blockit", "--severity", "4", "--received-at", "2030-12-24T16:30:00-06:00")
    assert result["response_due_at"] == "2030-12-30T16:30:00-06:00"
    result = sla_json(capsys, "--tenant", "blockit", "--severity", "3", "--received-at", "2030-11-28T10:00:00-06:00")
    assert result["response_due_at"] == "2030-11-29T10:00:00-06:00"  # Thanksgiving 2030; no explicit Friday holiday


def test_missing_required_option_is_an_argparse_error(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(["sla", "--tenant", "blockit", "--severity", "3"])
    assert exited.value.code == 2
    assert "--received-at" in capsys.readouterr().err
