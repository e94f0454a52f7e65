"""API keys and scopes: no valid key is a 401, a key without the route's scope a 403; some routes need none."""

from __future__ import annotations

import pytest
from gateway_fixtures import KEYS, Gateway, gateway  # noqa: F401

from starter.gateway.auth import find_key
from starter.gateway.settings import SettingsError, parse_api_keys

CASE = "case-blockit-000000000000000000000000"
CASE_BODY = {"tenant": "blockit", "channel": "api", "requester": {"email": "a@b.example"}, "subject": "s"}
# (method, path, body, scopes that may call it)
ROUTES = [
    ("POST", "/v1/cases", {"json": CASE_BODY}, {"intake", "admin"}),
    ("POST", "/v1/intake/chat?tenant=blub0x", {"json": {"conversation_id": "c", "message": "m"}}, {"intake", "admin"}),
    ("GET", f"/v1/cases/{CASE}", {}, {"intake", "operate", "admin"}),
    ("POST", f"/v1/cases/{CASE}/comment", {"json": {"author": "a", "text": "t"}}, {"intake", "operate", "admin"}),
    ("GET", "/v1/cases?tenant=blockit", {}, {"operate", "admin"}),
    ("POST", f"/v1/cases/{CASE}/respond", {"json": {"by": "e"}}, {"operate", "admin"}),
    ("POST", f"/v1/cases/{CASE}/resolve", {"json": {"by": "e", "resolution": "r"}}, {"operate", "admin"}),
    ("POST", "/v1/portal/links", {"json": {"tenant": "blockit", "email": "a@b.example"}}, {"admin"}),
]


@pytest.mark.parametrize("method, path, options, allowed", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_each_route_answers_401_403_or_lets_the_scope_through(gateway: Gateway, method, path, options, allowed):
    assert (await gateway.http.request(method, path, **options)).status_code == 401
    wrong = await gateway.http.request(method, path, headers={"Authorization": "Bearer not-a-key"}, **options)
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    basic = await gateway.http.request(method, path, headers={"Authorization": f"Basic {KEYS['admin']}"}, **options)
    assert basic.status_code == 401
    for scope, key in KEYS.items():
        answer = await gateway.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **options)
        if scope in allowed:
            assert answer.status_code not in (401, 403), f"{scope}: {answer.status_code} {answer.text}"
        else:
            assert answer.status_code == 403, f"{scope}: {answer.status_code}"
            assert "scope" in answer.json()["error"]


async def test_health_docs_ack_and_portal_need_no_key(gateway: Gateway):
    health = await gateway.http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "temporal": "reachable"}
    docs = await gateway.http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = (await gateway.http.get("/openapi.json")).json()
    assert "/v1/cases/{case_id}/request_escalation" in spec["paths"]
    assert (await gateway.http.get("/v1/ack/not.valid")).status_code == 400
    assert (await gateway.http.get("/portal")).status_code == 401


async def test_health_says_503_when_temporal_is_unreachable():
    import httpx

    from starter.gateway.app import create_app
    from starter.gateway.settings import GatewaySettings

    async def nowhere():
        from temporalio.client import Client

        return await Client.connect("127.0.0.1:1")

    app = create_app(client_factory=nowhere, settings=GatewaySettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        answer = await http.get("/healthz")
    assert answer.status_code == 503 and "cannot reach Temporal" in answer.json()["temporal"]


def test_api_keys_parse_scopes_and_reject_unknown_ones():
    keys = parse_api_keys(" k1=intake , k2=operate+admin,abc==intake")
    assert [(k.key, sorted(k.scopes)) for k in keys] == [
        ("k1", ["intake"]),
        ("k2", ["admin", "operate"]),
        ("abc=", ["intake"]),
    ]
    with pytest.raises(SettingsError, match="scope root"):
        parse_api_keys("k=root")
    with pytest.raises(SettingsError, match="entry 1"):
        parse_api_keys("justakey")


def test_keys_are_found_by_value_only():
    from starter.gateway.settings import GatewaySettings

    settings = GatewaySettings(api_keys=parse_api_keys("alpha=intake,beta=admin"))
    assert find_key(settings, "beta").scopes == {"admin"}
    assert find_key(settings, "bet") is None and find_key(settings, "") is None
