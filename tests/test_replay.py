"""Histories of representative cases, recorded by the lifecycle tests, replayed
against today's workflow code. A change that would break running cases fails
here: guard it with `workflow.patched` (docs/upgrading.md).

Re-record after an intended, patched change with
`SUPPORTFLOW_RECORD_HISTORIES=1 scripts/test tests/test_blockit_lifecycle.py ...`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import registered, sandbox_runner

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))


def test_representative_histories_are_recorded():
    names = {path.stem for path in HISTORIES}
    assert {"blockit_sev1_lifecycle", "blub0x_emergency_line_acknowledged", "blockit_pause_resume"} <= names


@pytest.mark.parametrize("sandbox", ["strict", "shared"])
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_case_replays_on_current_code(path: Path, sandbox: str):
    """`strict` also proves the workflow code reads no clock or random source; `shared` is what the worker runs."""
    workflows, _ = registered()
    replayer = Replayer(
        workflows=workflows, data_converter=pydantic_data_converter, workflow_runner=sandbox_runner(sandbox)
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
