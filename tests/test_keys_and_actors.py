"""Who acted is who authenticated (DESIGN "Security"): no process signs with a secret from the source, API keys
have names and may be bound to tenants, every change records the key beside the claimed name, and an email
address is exactly one address."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from gateway_fixtures import PUBLIC_URL, Gateway, gateway  # noqa: F401
from support import REPO

from starter.gateway.app import create_app
from starter.gateway.settings import parse_api_keys

CLINIC_KEY, OPS_KEY = "clinic-mail-secret-key", "blockit-ops-secret-key"
KEYS = f"clinic-mail:{CLINIC_KEY}=intake@blockit,blockit-ops:{OPS_KEY}=operate@blockit|blockit-eu"


@pytest_asyncio.fixture(scope="module")
async def bound(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with two named keys, each bound to blockit."""

    async def same_client():
        return gateway.client

    settings = dataclasses.replace(gateway.settings, api_keys=parse_api_keys(KEYS))
    app = create_app(client_factory=same_client, settings=settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL, timeout=60) as http:
        yield http


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def opening(tenant: str, **fields) -> dict:
    return {
        "tenant": tenant,
        "channel": "api",
        "requester": {"name": "Ana Diaz", "email": "ana@clinic.example"},
        "subject": "Chart page blank",
        "description": "The chart page is blank.",
        "source_id": f"bound-{uuid.uuid4().hex}",
    } | fields


@pytest.mark.parametrize(
    "entry",
    [["-m", "worker"], ["-m", "starter.cli", "gateway", "--port", "1"]],
    ids=["worker", "gateway"],
)
@pytest.mark.parametrize("missing", ["SUPPORTFLOW_ACK_SECRET", "SUPPORTFLOW_PORTAL_SECRET"])
def test_the_worker_and_the_gateway_refuse_to_start_without_a_signing_secret_and_name_it(entry, missing):
    env = {k: v for k, v in os.environ.items() if not k.startswith(missing)}
    env |= {"SUPPORTFLOW_API_KEYS": "k=admin", "PYTHONPATH": str(REPO)}
    env.setdefault("SUPPORTFLOW_ACK_SECRET", "a-test-secret")
    env.setdefault("SUPPORTFLOW_PORTAL_SECRET", "another-test-secret")
    env.pop(missing, None)
    exited = subprocess.run([sys.executable, *entry], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert exited.returncode != 0
    assert f"{missing} is not set" in exited.stderr and "Traceback" not in exited.stderr, exited.stderr


async def test_a_key_bound_to_a_tenant_gets_403_on_another_tenants_intake_and_cases(bound: httpx.AsyncClient):
    blub0x_case = "case-blub0x-000000000000000000000000"
    refused = [
        await bound.post("/v1/cases", json=opening("blub0x"), headers=as_key(CLINIC_KEY)),
        await bound.post(
            "/v1/intake/voicemail?tenant=blub0x",
            json={"caller_number": "+15555550123", "transcription": "help"},
            headers=as_key(CLINIC_KEY),
        ),
        await bound.get(f"/v1/cases/{blub0x_case}", headers=as_key(CLINIC_KEY)),
        await bound.post(f"/v1/cases/{blub0x_case}/respond", json={"by": "x"}, headers=as_key(OPS_KEY)),
        await bound.get("/v1/cases?tenant=blub0x", headers=as_key(OPS_KEY)),
    ]
    assert [answer.status_code for answer in refused] == [403] * 5, [answer.text for answer in refused]
    assert all("blub0x" in answer.json()["error"] for answer in refused)
    allowed = await bound.post("/v1/cases", json=opening("blockit"), headers=as_key(CLINIC_KEY))
    assert allowed.status_code == 201, allowed.text


async def test_every_comment_and_update_records_the_key_that_authenticated_beside_the_claimed_name(
    bound: httpx.AsyncClient,
):
    opened = await bound.post("/v1/cases", json=opening("blockit", severity=2), headers=as_key(CLINIC_KEY))
    case = opened.json()["case_id"]
    comment = {"author": "someone-else@clinic.example", "text": "Still blank."}
    assert (await bound.post(f"/v1/cases/{case}/comment", json=comment, headers=as_key(CLINIC_KEY))).status_code == 202
    forged_actor = {"kind": "cli", "name": "support-lead"}
    responded = await bound.post(
        f"/v1/cases/{case}/respond", json={"by": "support-lead", "actor": forged_actor}, headers=as_key(OPS_KEY)
    )
    assert responded.status_code == 200, responded.text
    timeline = responded.json()["timeline"]
    answer = next(entry["detail"] for entry in timeline if entry["event"] == "responded")
    assert answer["by"] == "support-lead" and answer["actor"] == {"kind": "key", "name": "blockit-ops"}

    async def the_comment():
        status = await bound.get(f"/v1/cases/{case}", headers=as_key(OPS_KEY))
        return next((e["detail"] for e in status.json()["timeline"] if e["event"] == "comment"), None)

    from support import eventually

    detail = await eventually(the_comment)
    assert detail is not None and detail["actor"] == {"kind": "key", "name": "clinic-mail"}, detail


@pytest.mark.parametrize("address", ["a@b.example,postmaster", "a@b.example, c@d.example", "Ana <a@b.example>"])
async def test_a_requester_email_is_exactly_one_address(gateway: Gateway, address: str):
    answer = await gateway.post("/v1/cases", json=opening("blockit", requester={"email": address}))
    assert answer.status_code == 422, answer.text
    assert [problem["field"] for problem in answer.json()["fields"]] == ["requester.email"]
    link = await gateway.post("/v1/portal/links", scope="admin", json={"tenant": "blockit", "email": address})
    assert link.status_code == 422, link.text
