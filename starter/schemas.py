"""Writes the contract models as JSON Schema to docs/schemas/, for intake systems in other languages.

`python -m starter.schemas` regenerates them; a test fails when they drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from workflows import contracts
from workflows.policy import Policy

CONTRACTS: dict[str, type[BaseModel]] = {
    "CaseRequest": contracts.CaseRequest,
    "CaseStatus": contracts.CaseStatus,
    "Comment": contracts.Comment,
    "WebhookBody": contracts.WebhookBody,
    "Policy": Policy,
    "update.respond": contracts.Respond,
    "update.acknowledge": contracts.Acknowledge,
    "update.assign": contracts.Assign,
    "update.set_severity": contracts.SetSeverity,
    "update.pause": contracts.Pause,
    "update.resume": contracts.Resume,
    "update.provide_workaround": contracts.ProvideWorkaround,
    "update.request_escalation": contracts.RequestEscalation,
    "update.request_emergency": contracts.RequestEmergency,
    "update.amend": contracts.Amend,
    "update.resolve": contracts.Resolve,
    "update.reopen": contracts.Reopen,
    "update.close": contracts.Close,
    "update.apply_policy": contracts.ApplyPolicy,
    "SlaReport": contracts.SlaReport,
    "WhatIf": contracts.WhatIf,
}
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def rendered() -> dict[str, str]:
    return {
        f"{name}.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in CONTRACTS.items()
    }


def main() -> int:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (SCHEMA_DIR / name).write_text(text)
    print(f"wrote {len(CONTRACTS)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
