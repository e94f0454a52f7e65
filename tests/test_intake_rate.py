"""Intake is rate-limited per API key (Decision 16): over SUPPORTFLOW_RATE_INTAKE requests in a minute, a key
gets 429 with Retry-After, while other keys and the key's own reads go on."""

from __future__ import annotations

import uuid

import httpx
import pytest
from gateway_fixtures import KEYS, PUBLIC_URL, Gateway, gateway  # noqa: F401

from environment import SettingsError
from starter.gateway.app import create_app
from starter.gateway.intake_rate import DEFAULT_PER_MINUTE, IntakeRate


def opening(source: str) -> dict:
    return {
        "tenant": "blockit",
        "channel": "api",
        "source_id": source,
        "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
        "subject": "Export slow",
        "description": "The export takes an hour.",
    }


async def test_a_key_over_its_intake_rate_gets_429_with_retry_after_and_other_keys_go_on(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SUPPORTFLOW_RATE_INTAKE", "3")

    async def same_client():
        return gateway.client

    app = create_app(client_factory=same_client, settings=gateway.settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, timeout=60) as http:

        async def post(key: str, path: str = "/v1/cases", **options) -> httpx.Response:
            return await http.post(path, headers={"Authorization": f"Bearer {KEYS[key]}"}, **options)

        sources = [f"rate-{uuid.uuid4().hex}" for _ in range(3)]
        answers = [await post("intake", json=opening(source)) for source in sources]
        assert [answer.status_code for answer in answers] == [201, 201, 201]
        over = await post("intake", json=opening(f"rate-{uuid.uuid4().hex}"))
        assert over.status_code == 429, over.text
        assert 1 <= int(over.headers["Retry-After"]) <= 60
        assert "intake requests" in over.json()["error"] and "3" in over.json()["error"]
        voicemail = await post("intake", "/v1/intake/voicemail?tenant=blockit", json={"caller_number": "+15555550123"})
        assert voicemail.status_code == 429, "every intake route counts against the key"
        # The same request again is not a new case either: the limit comes before anything reaches Temporal.
        assert (await post("intake", json=opening(sources[0]))).status_code == 429
        assert (await post("admin", json=opening(f"rate-{uuid.uuid4().hex}"))).status_code == 201
        read = await http.get(answers[0].json()["status_url"], headers={"Authorization": f"Bearer {KEYS['intake']}"})
        assert read.status_code == 200, "reading a case is not intake"


async def test_the_intake_rate_comes_from_the_environment_and_zero_turns_it_off():
    assert IntakeRate.from_env({}).per_minute == DEFAULT_PER_MINUTE == 12_000
    off = IntakeRate.from_env({"SUPPORTFLOW_RATE_INTAKE": "0"})
    assert all([await off.retry_after("busy-system") is None for _ in range(1000)])
    with pytest.raises(SettingsError, match="SUPPORTFLOW_RATE_INTAKE"):
        IntakeRate.from_env({"SUPPORTFLOW_RATE_INTAKE": "lots"})
