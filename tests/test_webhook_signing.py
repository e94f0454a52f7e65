"""Outbound webhooks are signed the Standard Webhooks way, and a receiver verifies them with `standardwebhooks`.

Secret precedence (DESIGN Decision 19): the contact's `webhook_secret_env`, then the policy's, then
SUPPORTFLOW_WEBHOOK_SECRET; unsigned when none applies. `webhook-id` is the idempotency key.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from receivers import HttpReceiver
from support import REPO
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deliver import deliver
from workflows.contracts import Delivery, DeliveryResult, WebhookBody

CASE_ID = "case-hooked-0123456789abcdef01234567"


def a_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def a_webhook(address: str, contact: str = "ops-bot", attempt_key: str = "1") -> Delivery:
    return Delivery(
        case_id=CASE_ID,
        tenant="hooked",
        ladder="response_breach",
        run=1,
        step=1,
        round=1,
        contact=contact,
        channel="webhook",
        address=address,
        case_channel="email",
        subject="Sev1 response breach: Scheduling page down",
        message="Nobody has responded for 30 minutes.",
        idempotency_key=f"{CASE_ID}:response_breach:{attempt_key}:1:1:{contact}:webhook",
    )


async def attempt(delivery: Delivery, number: int = 1) -> DeliveryResult:
    env = ActivityEnvironment()
    scheduled = datetime.now(UTC)
    env.info = dataclasses.replace(
        env.info, attempt=number, scheduled_time=scheduled, current_attempt_scheduled_time=scheduled
    )
    return await env.run(deliver, delivery)


@pytest.fixture
def hooked_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A tenant whose `ops-bot` names its own secret's variable, `audit-bot` none; the policy names one for both."""
    policy = yaml.safe_load((REPO / "policies" / "blockit.yaml").read_text())
    policy["tenant"] = "hooked"
    policy["webhook_secret_env"] = "HOOKED_WEBHOOK_SECRET"
    policy["contacts"]["ops-bot"] = {
        "name": "Ops bot",
        "webhook": "https://ops.example/hook",
        "webhook_secret_env": "OPS_BOT_WEBHOOK_SECRET",
    }
    policy["contacts"]["audit-bot"] = {"name": "Audit bot", "webhook": "https://audit.example/hook"}
    (tmp_path / "hooked.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(tmp_path))
    for name in ("SUPPORTFLOW_WEBHOOK_SECRET", "HOOKED_WEBHOOK_SECRET", "OPS_BOT_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return policy


async def test_webhook_is_signed_with_the_global_secret_and_the_receiver_verifies_it(
    http_receiver: HttpReceiver, monkeypatch, tmp_path
):
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(tmp_path))  # no file for the tenant: only the global secret
    secret = a_secret()
    monkeypatch.setenv("SUPPORTFLOW_WEBHOOK_SECRET", secret)
    http_receiver.require_signature("/signed", secret)
    delivery = a_webhook(http_receiver.url("/signed/hook"))

    result = await attempt(delivery)

    (request,) = http_receiver.requests_to("/signed/hook")
    assert (request.status, request.signature) == (200, "valid")
    assert request.headers["webhook-id"] == delivery.idempotency_key == request.headers["idempotency-key"]
    assert WebhookBody.model_validate(request.json()).case_id == CASE_ID
    assert "signed" in (result.detail or "")


async def test_the_contacts_own_secret_comes_before_the_policys_and_the_global_one(
    http_receiver: HttpReceiver, hooked_policy, monkeypatch
):
    own, tenant_wide, everyone = a_secret(), a_secret(), a_secret()
    monkeypatch.setenv("OPS_BOT_WEBHOOK_SECRET", own)
    monkeypatch.setenv("HOOKED_WEBHOOK_SECRET", tenant_wide)
    monkeypatch.setenv("SUPPORTFLOW_WEBHOOK_SECRET", everyone)
    http_receiver.require_signature("/ops", own)
    http_receiver.require_signature("/audit", tenant_wide)

    await attempt(a_webhook(http_receiver.url("/ops/hook"), contact="ops-bot"))
    await attempt(a_webhook(http_receiver.url("/audit/hook"), contact="audit-bot"))

    assert [r.signature for r in http_receiver.requests] == ["valid", "valid"]


async def test_a_receiver_holding_another_secret_refuses_and_the_delivery_fails_for_good(
    http_receiver: HttpReceiver, hooked_policy, monkeypatch
):
    monkeypatch.setenv("OPS_BOT_WEBHOOK_SECRET", a_secret())
    http_receiver.require_signature("/ops", a_secret())

    with pytest.raises(ApplicationError) as failed:
        await attempt(a_webhook(http_receiver.url("/ops/hook")))

    (request,) = http_receiver.requests
    assert (request.status, request.signature) == (401, "No matching signature found")
    assert failed.value.non_retryable and "HTTP 401" in failed.value.message


async def test_a_retry_keeps_the_webhook_id_and_signs_afresh(http_receiver: HttpReceiver, hooked_policy, monkeypatch):
    secret = a_secret()
    monkeypatch.setenv("OPS_BOT_WEBHOOK_SECRET", secret)
    http_receiver.require_signature("/ops", secret)
    delivery = a_webhook(http_receiver.url("/ops/hook"))

    await attempt(delivery, number=1)
    await attempt(delivery, number=2)

    first, second = http_receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.idempotency_key
    assert first.body == second.body
    assert (first.signature, second.signature) == ("valid", "valid")


async def test_without_any_secret_the_webhook_goes_unsigned(http_receiver: HttpReceiver, monkeypatch, tmp_path):
    monkeypatch.setenv("SUPPORTFLOW_POLICY_DIR", str(tmp_path))
    monkeypatch.delenv("SUPPORTFLOW_WEBHOOK_SECRET", raising=False)

    await attempt(a_webhook(http_receiver.url("/hook")))

    (request,) = http_receiver.requests
    assert request.status == 200
    assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(request.headers)


async def test_a_secret_variable_the_policy_names_but_the_worker_lacks_is_a_permanent_failure_not_an_unsigned_post(
    http_receiver: HttpReceiver, hooked_policy
):
    with pytest.raises(ApplicationError) as failed:
        await attempt(a_webhook(http_receiver.url("/ops/hook")))

    assert failed.value.non_retryable
    assert "OPS_BOT_WEBHOOK_SECRET" in failed.value.message and "not set" in failed.value.message
    assert http_receiver.requests == []


def test_a_webhook_secret_in_the_policy_must_be_a_variable_name_not_the_secret(hooked_policy, tmp_path):
    from tenant_policies import PolicyError, read_policy_file

    hooked_policy["contacts"]["ops-bot"]["webhook_secret_env"] = "whsec_abc"
    (tmp_path / "hooked.yaml").write_text(yaml.safe_dump(hooked_policy, sort_keys=False))

    with pytest.raises(PolicyError) as refused:
        read_policy_file(tmp_path / "hooked.yaml")

    assert "contacts.ops-bot.webhook_secret_env" in str(refused.value)
