"""Pytest fixtures for delivery tests: real receivers, with the worker's environment pointed at them.

Import them into `tests/conftest.py` (or a test module) with
`from delivery_fixtures import ack_settings, http_receiver, smtp_receiver, twilio_receiver`.
Settings are read when a delivery runs, so a worker started in the same test
sees the environment these fixtures set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from receivers import HttpReceiver, Reply, SmtpReceiver

from activities.settings import Settings

TWILIO_SID = "ACtest00000000000000000000000000"
TWILIO_TOKEN = "twilio-test-token"
TWILIO_FROM = "+15555550199"
PORTAL_SECRET = "test-portal-secret"
ACK_SECRET = "test-ack-secret"
PUBLIC_URL = "http://gateway.test"


@pytest_asyncio.fixture
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    """A webhook/chat endpoint: deliver to `http_receiver.url("/any/path")`."""
    async with HttpReceiver() as receiver:
        yield receiver


@pytest_asyncio.fixture
async def twilio_receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HttpReceiver]:
    """Stands in for api.twilio.com; SMS land on `.../Messages.json`, calls on `.../Calls.json`."""
    async with HttpReceiver(default=Reply(201, json={"sid": "SMtest", "status": "queued"})) as receiver:
        monkeypatch.setenv("SUPPORTFLOW_TWILIO_BASE_URL", receiver.base_url)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", TWILIO_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        monkeypatch.setenv("SUPPORTFLOW_TWILIO_FROM", TWILIO_FROM)
        yield receiver


@pytest_asyncio.fixture
async def smtp_receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SmtpReceiver]:
    """An SMTP server the worker's email deliveries go to (plain SMTP, no login)."""
    async with SmtpReceiver() as receiver:
        for name in ("SUPPORTFLOW_SMTP_USER", "SUPPORTFLOW_SMTP_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        for name, value in receiver.env().items():
            monkeypatch.setenv(name, value)
        yield receiver


@pytest.fixture
def ack_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A known acknowledgement-link secret and gateway URL, so tests can verify the links deliveries carry."""
    monkeypatch.setenv("SUPPORTFLOW_ACK_SECRET", ACK_SECRET)
    monkeypatch.setenv("SUPPORTFLOW_PORTAL_SECRET", PORTAL_SECRET)
    monkeypatch.setenv("SUPPORTFLOW_PUBLIC_URL", PUBLIC_URL)
    return Settings.from_env()
