"""`POST /v1/cases` is served without FastAPI's dependency solving (starter/gateway/direct_route.py), and
answers every bad request exactly as the same endpoint declared the usual FastAPI way does.

Both apps run in process; no request here gets as far as Temporal (each fails a check before it), so the
client factory is never called.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from starter.gateway import intake_routes
from starter.gateway.app import create_app
from starter.gateway.auth import INTAKE
from starter.gateway.errors import install_error_handlers
from starter.gateway.intake_rate import IntakeRate, within_intake_rate
from starter.gateway.settings import GatewaySettings, parse_api_keys

KEYS = {"intake": "intake-key", "operate": "operate-key", "blub0x": "blub0x-intake-key"}
API_KEYS = "intake-key=intake,operate-key=operate,blub0x:blub0x-intake-key=intake@blub0x"
CASE = {"tenant": "blockit", "channel": "api", "requester": {"email": "a@b.example"}, "subject": "s"}
JSON = {"Content-Type": "application/json"}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


# (what is wrong, the request options)
BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("no key", {"json": CASE}),
    ("an unknown key", {"json": CASE, "headers": {"Authorization": "Bearer nope"}}),
    ("a Basic credential", {"json": CASE, "headers": {"Authorization": f"Basic {KEYS['intake']}"}}),
    ("a key without the intake scope", {"json": CASE, "headers": bearer("operate")}),
    ("a key for another tenant", {"json": CASE, "headers": bearer("blub0x")}),
    ("an empty body", {"content": b"", "headers": bearer("intake") | JSON}),
    ("no Content-Type", {"content": b'{"tenant": "blockit"}', "headers": bearer("intake")}),
    ("text/plain", {"content": b'{"tenant": "blockit"}', "headers": bearer("intake") | {"Content-Type": "text/plain"}}),
    ("JSON that does not parse", {"content": b'{"tenant": "blockit",', "headers": bearer("intake") | JSON}),
    ("a JSON list", {"json": [CASE], "headers": bearer("intake")}),
    ("no fields", {"json": {}, "headers": bearer("intake")}),
    ("an unknown field", {"json": CASE | {"colour": "blue"}, "headers": bearer("intake")}),
    ("a nested field of the wrong type", {"json": CASE | {"requester": {"email": 7}}, "headers": bearer("intake")}),
    ("an unknown channel", {"json": CASE | {"channel": "fax"}, "headers": bearer("intake")}),
    ("an unknown tenant", {"json": CASE | {"tenant": "nosuchco"}, "headers": bearer("intake")}),
    (
        "a +json Content-Type with an unknown field",
        {
            "content": b'{"tenant": "blockit", "colour": 1}',
            "headers": bearer("intake") | {"Content-Type": "application/vnd.case+json; charset=utf-8"},
        },
    ),
]


async def unreachable_temporal():
    raise AssertionError("no request in this file may reach Temporal")


def settings() -> GatewaySettings:
    return GatewaySettings(api_keys=parse_api_keys(API_KEYS))


def declared_the_usual_way() -> FastAPI:
    """The same endpoint and dependencies, served by FastAPI's own route handler."""
    app = FastAPI()
    app.state.settings = settings()
    app.state.intake_rate = IntakeRate(per_minute=0)
    install_error_handlers(app)
    app.add_api_route(
        "/v1/cases",
        intake_routes.open_from_json,
        methods=["POST"],
        status_code=201,
        dependencies=[INTAKE, Depends(within_intake_rate)],
    )
    return app


@pytest.fixture
async def served() -> FastAPI:
    app = create_app(client_factory=unreachable_temporal, settings=settings())
    app.state.intake_rate = IntakeRate(per_minute=0)
    return app


@pytest.fixture
async def both(served: FastAPI):
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://gw") as direct,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=declared_the_usual_way()), base_url="http://gw") as usual,
    ):
        yield direct, usual


@pytest.mark.parametrize("options", [options for _, options in BAD_REQUESTS], ids=[name for name, _ in BAD_REQUESTS])
async def test_a_bad_request_gets_the_answer_fastapi_would_give(both, options: dict[str, Any]):
    direct, usual = both
    served = await direct.post("/v1/cases", **options)
    expected = await usual.post("/v1/cases", **options)
    assert 400 <= served.status_code < 500
    assert (served.status_code, served.json()) == (expected.status_code, expected.json())
    assert served.headers.get("www-authenticate") == expected.headers.get("www-authenticate")


async def test_a_sender_without_a_key_learns_nothing_about_its_body(both):
    """The one intended difference: FastAPI parses the body before it checks the key, so a body that is not
    JSON got a 422 even without a key. The key comes first here."""
    direct, _ = both
    answer = await direct.post("/v1/cases", content=b'{"tenant": "blockit",', headers=JSON)
    assert answer.status_code == 401 and answer.json() == {"error": "send an API key as Authorization: Bearer <key>"}


async def test_the_intake_rate_is_checked_after_the_key_and_before_the_body(served: FastAPI, both):
    direct, _ = both
    served.state.intake_rate = IntakeRate(per_minute=1)
    first = await direct.post("/v1/cases", json={}, headers=bearer("intake"))
    second = await direct.post("/v1/cases", json={}, headers=bearer("intake"))
    assert first.status_code == 422
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
    assert "key-" in second.json()["error"] and KEYS["intake"] not in second.text  # named, never quoted


async def test_the_openapi_document_still_describes_the_route(both):
    direct, _ = both
    operation = (await direct.get("/openapi.json")).json()["paths"]["/v1/cases"]["post"]
    assert operation["summary"] == "Open a case from CaseRequest JSON"
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CaseRequest"
    }
    assert {"200", "201", "401", "403", "422", "429"} <= set(operation["responses"])
    assert operation["security"] == [{"HTTPBearer": []}]
