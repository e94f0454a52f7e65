"""The scale run's policy: bench/policy.py's blockit (webhooks only), plus one severity of the bench's own.

Severity 5 ("Timed") answers within 2 days, 24x7: a case received two days
before a chosen moment breaches at that moment, and its response warning
(at 0.75, twelve hours before) has already passed when it is opened, so it
fires at opening and the case is quiet until its deadline, evicted or not.
Severity 4 (Low, 24 business hours) fills the levels: received within the
last 12 hours, its warnings and deadlines fall one to four days ahead and
none fires during a run. The first breach step waits a day, so step 2 never
adds load to a later level.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.policy import TENANT, bench_policy

TIMED_SEVERITY = 5
FILL_SEVERITY = 4
TIMED_RESPONSE_HOURS = 48


def write_scale_policy(folder: Path, webhook_url) -> Path:
    policy = bench_policy(webhook_url, warn_at=0.75, first_breach_wait="1d")
    policy["severities"][TIMED_SEVERITY] = {
        "name": "Timed",
        "response": {"within": f"{TIMED_RESPONSE_HOURS}h", "clock": "24x7"},
        "resolution": {"within": "20d", "clock": "24x7"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{TENANT}.yaml").write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return folder
