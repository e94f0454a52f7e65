"""Shared fixtures: real Temporal servers, real delivery receivers, and policies pointed at them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_fixtures import isolated_archive  # noqa: F401
from case_fixtures import case_env, policies  # noqa: F401
from delivery_fixtures import ack_settings, http_receiver, smtp_receiver, twilio_receiver  # noqa: F401
from temporal_fixtures import time_skipping_env  # noqa: F401
