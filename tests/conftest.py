"""Shared fixtures: real Temporal servers, real delivery receivers, and policies pointed at them.

The fixture modules live in tests/support/, which pytest puts on the import path (pyproject.toml:
`pythonpath`), so a test module imports them by name.
"""

import os

import pytest
from archive_fixtures import isolated_archive  # noqa: F401
from case_fixtures import case_env, policies  # noqa: F401
from delivery_fixtures import ACK_SECRET, PORTAL_SECRET, ack_settings, http_receiver, smtp_receiver, twilio_receiver  # noqa: F401
from temporal_fixtures import time_skipping_env  # noqa: F401

# No secret is written in the source (docs/security.md): the tests sign links with their own, and so do the
# workers and gateways they start as processes.
os.environ.setdefault("SUPPORTFLOW_ACK_SECRET", ACK_SECRET)
os.environ.setdefault("SUPPORTFLOW_PORTAL_SECRET", PORTAL_SECRET)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, by their `takes` mark, so the workers finish together instead of one running a
    long benchmark alone at the end (scripts/test turns off xdist's own order: most tests first)."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("takes")
        return mark.args[0] if mark else 0

    items.sort(key=seconds, reverse=True)
