"""The bench's copy of the blockit policy: every page is a webhook to the local receiver.

Only the delivery being timed should matter, so contacts keep just a
`webhook` address (no email, SMS, voice or chat), steps that depend on the
time of day are dropped (a run at night must do the same work as one at
noon), and two knobs make a case's whole lifecycle fit in a few minutes:
`warn_at`, so the response warning fires from its own timer a little before
the deadline, and the first breach step's `wait`, so step 2 follows soon.
The requester still gets the acknowledgement and the resolution by email,
as every real case does (to a local SMTP receiver).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
TENANT = "blockit"


def bench_policy(webhook_url, *, warn_at: float, first_breach_wait: str) -> dict[str, Any]:
    """The shipped blockit policy with `webhook_url(contact_id)` as every contact's only address."""
    policy = yaml.safe_load((REPO / "policies" / f"{TENANT}.yaml").read_text(encoding="utf-8"))
    policy["contacts"] = {
        contact_id: {"name": contact["name"], "webhook": webhook_url(contact_id)}
        for contact_id, contact in policy["contacts"].items()
    }
    escalations = {}
    for name, ladder in policy["escalations"].items():
        steps = ladder["steps"] if isinstance(ladder, dict) else ladder
        kept = [dict(step, via=["webhook"]) for step in steps if "when" not in step]
        escalations[name] = dict(ladder, steps=kept) if isinstance(ladder, dict) else kept
    escalations["response_breach"][0]["wait"] = first_breach_wait
    policy["escalations"] = escalations
    policy["warn_at"] = warn_at
    return policy


def write_policy_dir(folder: Path, webhook_url, *, warn_at: float, first_breach_wait: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    policy = bench_policy(webhook_url, warn_at=warn_at, first_breach_wait=first_breach_wait)
    (folder / f"{TENANT}.yaml").write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return folder
