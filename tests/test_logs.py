"""Worker logs are JSON lines carrying the case id, from a real activity run."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from starter.logs import JsonFormatter


@activity.defn
async def note_something() -> None:
    activity.logger.warning("paging %s", "support-lead")


async def test_activity_log_lines_are_json_with_the_case_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("temporalio.activity")
    logger.addHandler(handler)
    try:
        env = ActivityEnvironment()
        env.info = dataclasses.replace(
            env.info, workflow_id="case-blockit-0123456789abcdef01234567", activity_type="note_something"
        )
        await env.run(note_something)
    finally:
        logger.removeHandler(handler)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["case_id"] == "case-blockit-0123456789abcdef01234567"
    assert line["level"] == "WARNING" and "paging support-lead" in line["message"]
    assert line["activity_type"] == "note_something"
