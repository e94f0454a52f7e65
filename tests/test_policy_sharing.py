"""One copy of a policy version per worker: every open case of a tenant holds the same
LoadedPolicy (about 30 KB with its holidays) instead of its own, and only when the
content is provably the same."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tenant_policies import expand_holidays, loaded_policy, read_policy_file
from workflows.policy import LoadedPolicy, shared

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def decoded(loaded: LoadedPolicy) -> LoadedPolicy:
    """What a workflow gets: its own copy, decoded from the activity result in its history."""
    return LoadedPolicy.model_validate_json(loaded.model_dump_json())


def test_the_loader_stamps_a_digest_of_the_content_and_years():
    blockit = expand_holidays(read_policy_file(POLICIES / "blockit.yaml"), 2026, 2029)
    again = expand_holidays(read_policy_file(POLICIES / "blockit.yaml"), 2026, 2029)
    assert blockit.digest and len(blockit.digest) == 64 and again.digest == blockit.digest
    assert expand_holidays(read_policy_file(POLICIES / "blockit.yaml"), 2027, 2030).digest != blockit.digest
    assert expand_holidays(read_policy_file(POLICIES / "blub0x.yaml"), 2026, 2029).digest != blockit.digest


def test_an_edited_policy_file_gets_a_new_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copy(POLICIES / "blockit.yaml", tmp_path / "blockit.yaml")
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(tmp_path))
    before = loaded_policy("blockit", 2027)
    text = (tmp_path / "blockit.yaml").read_text().replace("warn_at: 0.75", "warn_at: 0.5")
    assert "warn_at: 0.5" in text
    (tmp_path / "blockit.yaml").write_text(text)
    os.utime(tmp_path / "blockit.yaml", ns=(1, 1))  # a new mtime whatever the file system's resolution
    after = loaded_policy("blockit", 2027)
    assert after.policy.warn_at != before.policy.warn_at and after.digest != before.digest


def test_cases_holding_the_same_version_share_one_copy_with_one_calendar():
    loaded = expand_holidays(read_policy_file(POLICIES / "blub0x.yaml"), 2030, 2033)
    first, second = decoded(loaded), decoded(loaded)
    assert first is not second
    kept = shared(first)
    assert kept is first and shared(second) is first
    assert shared(second).business_calendar() is first.business_calendar()


def test_a_policy_without_a_digest_is_never_shared():
    loaded = expand_holidays(read_policy_file(POLICIES / "blub0x.yaml"), 2031, 2034)
    anonymous = decoded(loaded).model_copy(update={"digest": None})
    assert shared(anonymous) is anonymous
    assert shared(decoded(loaded)) is not anonymous
