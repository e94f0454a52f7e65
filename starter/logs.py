"""JSON log lines that carry the case: one object per line, with `case_id` whenever
the record comes from a case's workflow or one of its activities."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The SDK's workflow.logger and activity.logger attach these dicts.
        for context in ("temporal_workflow", "temporal_activity"):
            details = getattr(record, context, None)
            if isinstance(details, dict):
                case_id = details.get("workflow_id")
                if isinstance(case_id, str) and case_id.startswith("case-"):
                    line["case_id"] = case_id
                line |= {
                    key: value
                    for key, value in details.items()
                    if key in ("run_id", "activity_type", "attempt", "workflow_type")
                }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str | int = "INFO") -> None:
    """JSON lines by default; SUPPORTFLOW_LOG_FORMAT=text for a human at a terminal."""
    handler = logging.StreamHandler()
    if os.environ.get("SUPPORTFLOW_LOG_FORMAT", "json") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
