"""`supportflow policy check`: the shipped policies pass, and every kind of bad
file fails with a non-zero exit naming the file and the field, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from starter.cli import main

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"
SHIPPED = sorted(POLICIES.glob("*.yaml"))
CONSOLE_SCRIPT = Path(sys.executable).with_name("supportflow")


def blockit() -> dict[str, Any]:
    return yaml.safe_load((POLICIES / "blockit.yaml").read_text())


def write(tmp_path: Path, name: str, policy: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def check(capsys: pytest.CaptureFixture[str], *files: Path | str) -> tuple[int, str]:
    code = main(["policy", "check", *map(str, files)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- the shipped policies --------------------------------------------------------


def test_two_policies_are_shipped():
    assert [p.name for p in SHIPPED] == ["blockit.yaml", "blub0x.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_policy_passes_policy_check(capsys: pytest.CaptureFixture[str], path: Path):
    code, output = check(capsys, path)
    assert code == 0, output
    assert f"{path}: ok · {path.stem}" in output


def test_policy_check_without_files_checks_every_policy_in_the_policy_dir(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(POLICIES))
    code, output = check(capsys)
    assert code == 0, output
    assert "blockit.yaml: ok" in output and "blub0x.yaml: ok" in output


def test_policy_check_with_an_empty_policy_dir_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(tmp_path))
    code, output = check(capsys)
    assert code == 2
    assert str(tmp_path) in output


def test_console_script_passes_the_shipped_policies(tmp_path: Path):
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} missing: pip install -e '.[test]'"
    env = os.environ | {"SUPPORTFLOW_POLICY_DIR": str(POLICIES)}
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "policy", "check", *map(str, SHIPPED)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "blockit.yaml: ok" in done.stdout and "blub0x.yaml: ok" in done.stdout
    assert done.stderr == ""


def test_console_script_names_a_bad_file_without_traceback(tmp_path: Path):
    policy = blockit()
    policy["calendar"]["timezone"] = "Mars/Olympus_Mons"
    bad = write(tmp_path, "bad", policy)
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "policy", "check", str(bad)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode != 0
    assert f"{bad}: calendar.timezone:" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# --- one test per kind of bad file ---------------------------------------------------


def _unknown_top_level_key(p: dict) -> None:
    p["colour"] = "blue"


def _unknown_nested_key(p: dict) -> None:
    p["severities"][3]["response"]["whithin"] = "1h"


def _unknown_contact_in_notify(p: dict) -> None:
    p["escalations"]["response_breach"][1]["notify"] = ["support-lead", "nobody-here"]


def _unknown_rotation_member(p: dict) -> None:
    p["rotations"]["oncall"] = ["support-lead", "ghost"]


def _unknown_ladder_name(p: dict) -> None:
    p["escalations"]["bogus_ladder"] = [{"notify": ["support-team"], "via": ["chat"], "wait": "0m"}]


def _bad_time_zone(p: dict) -> None:
    p["calendar"]["timezone"] = "America/Atlantis"


def _inverted_hours(p: dict) -> None:
    p["calendar"]["hours"]["tue"] = ["17:00-09:00"]


def _overlapping_hours(p: dict) -> None:
    p["calendar"]["hours"]["wed"] = ["09:00-13:00", "12:00-17:00"]


def _days_on_business_clock(p: dict) -> None:
    p["severities"][4]["response"]["within"] = "1d"


def _severity_without_response(p: dict) -> None:
    del p["severities"][3]["response"]


def _warn_at_zero(p: dict) -> None:
    p["warn_at"] = 0


def _warn_at_above_one(p: dict) -> None:
    p["warn_at"] = 1.5


def _warn_at_list_with_one_bad(p: dict) -> None:
    p["warn_at"] = [0.5, 1]


def _unknown_when_test(p: dict) -> None:
    p["escalations"]["response_breach"][0]["when"] = {"full_moon": True}


def _unknown_when_test_in_repeating_ladder(p: dict) -> None:
    p["escalations"]["emergency_intake"]["steps"][0]["when"] = {"after_hours": True, "full_moon": True}


def _contact_lacking_every_via_channel(p: dict) -> None:
    p["escalations"]["response_breach"][1]["via"] = ["chat"]  # the support lead has phone and email only


def _rotation_member_lacking_every_via_channel(p: dict) -> None:
    p["escalations"]["emergency_intake"]["steps"][0]["via"] = ["webhook"]


def _unknown_holiday_name(p: dict) -> None:
    p["calendar"]["holiday_names"] = ["New Year's Day", "Festivus"]


def _bad_duration(p: dict) -> None:
    p["escalations"]["response_breach"][0]["wait"] = "15 minutes"


def _zero_target(p: dict) -> None:
    p["severities"][1]["response"]["within"] = "0m"


def _unknown_delivery_channel(p: dict) -> None:
    p["escalations"]["response_breach"][0]["via"] = ["chat", "pigeon"]


def _default_severity_undefined(p: dict) -> None:
    p["default_severity"] = 7


INVALID: list[tuple[Callable[[dict], None], str, str]] = [
    # (mutation, field path the output must name, another fragment it must contain)
    (_unknown_top_level_key, "colour", "unknown key"),
    (_unknown_nested_key, "severities.3.response.whithin", "unknown key"),
    (_unknown_contact_in_notify, "escalations.response_breach[1].notify[1]", "nobody-here"),
    (_unknown_rotation_member, "rotations.oncall[1]", "ghost"),
    (_unknown_ladder_name, "escalations.bogus_ladder", "response_warning"),
    (_bad_time_zone, "calendar.timezone", "America/Atlantis"),
    (_inverted_hours, "calendar.hours", "tue: '17:00-09:00'"),
    (_overlapping_hours, "calendar.hours", "wed: 12:00-17:00 overlaps 09:00-13:00"),
    (_days_on_business_clock, "severities.4.response", "within: '1d'"),
    (_severity_without_response, "severities.3.response", "required"),
    (_warn_at_zero, "warn_at", "0"),
    (_warn_at_above_one, "warn_at", "1.5"),
    (_warn_at_list_with_one_bad, "warn_at", "1"),
    (_unknown_when_test, "escalations.response_breach[0].when.full_moon", "unknown key"),
    (_unknown_when_test_in_repeating_ladder, "escalations.emergency_intake.steps[0].when.full_moon", "unknown key"),
    (_contact_lacking_every_via_channel, "escalations.response_breach[1].via", "Support lead"),
    (_rotation_member_lacking_every_via_channel, "escalations.emergency_intake[0].via", "webhook"),
    (_unknown_holiday_name, "calendar.holiday_names[1]", "Festivus"),
    (_bad_duration, "escalations.response_breach[0].wait", "15 minutes"),
    (_zero_target, "severities.1.response.within", "0m"),
    (_unknown_delivery_channel, "escalations.response_breach[0].via[1]", "'email', 'sms'"),
    (_default_severity_undefined, "default_severity", "7"),
]


@pytest.mark.parametrize(("mutate", "field", "fragment"), INVALID, ids=[m.__name__.strip("_") for m, _, _ in INVALID])
def test_invalid_policy_fails_naming_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mutate: Callable[[dict], None], field: str, fragment: str
):
    policy = blockit()
    mutate(policy)
    path = write(tmp_path, mutate.__name__.strip("_"), policy)
    code, output = check(capsys, path)
    assert code != 0
    assert f"{path}: {field}: " in output, output  # the exact field path, then the problem
    assert fragment in output, output
    assert "Traceback" not in output


def test_every_problem_in_a_file_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    policy = blockit()
    _unknown_rotation_member(policy)
    _unknown_contact_in_notify(policy)
    path = write(tmp_path, "two_problems", policy)
    code, output = check(capsys, path)
    assert code != 0
    assert f"{path}: rotations.oncall[1]" in output
    assert f"{path}: escalations.response_breach[1].notify[1]" in output


def test_good_and_bad_files_are_each_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    policy = blockit()
    _bad_time_zone(policy)
    bad = write(tmp_path, "bad", policy)
    good = POLICIES / "blub0x.yaml"
    code, output = check(capsys, bad, good)
    assert code != 0
    assert f"{good}: ok" in output
    assert f"{bad}: calendar.timezone" in output


@pytest.mark.parametrize(
    ("text", "field"),
    [("tenant: [unclosed\n", "(yaml)"), ("- just\n- a list\n", "(file)"), ("", "(file)")],
    ids=["yaml_syntax", "not_a_mapping", "empty"],
)
def test_unreadable_policy_fails_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, field: str
):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    code, output = check(capsys, path)
    assert code != 0
    assert f"{path}: {field}" in output
    assert "Traceback" not in output


def test_missing_policy_file_fails_naming_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    path = tmp_path / "nowhere.yaml"
    code, output = check(capsys, path)
    assert code != 0
    assert str(path) in output
    assert "Traceback" not in output
