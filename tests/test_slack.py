"""Slack: a chat page to a Slack incoming webhook carries an Acknowledge button, and pressing it
acknowledges the case as that Slack user and updates the message (DESIGN Decision 19).

Real parts: the dev server and production worker (gateway_fixtures), the chat page delivered to a
local receiver that stands in for hooks.slack.com (SUPPORTFLOW_SLACK_HOSTS), interaction payloads
signed with slack_sdk's own algorithm, and `response_url` pointing at that receiver.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
import pytest_asyncio
import yaml
from gateway_fixtures import Gateway, eventually, gateway  # noqa: F401
from slack_sdk.signature import SignatureVerifier
from support import REPO

from activities.channels import slack
from activities.settings import Settings
from signed_links import verify_ack_token
from workflows.contracts import Delivery

SIGNING_SECRET = "slack-test-signing-secret"
PRESSER = {"id": "U0TEST", "username": "ana.lopez", "name": "ana.lopez", "team_id": "T0TEST"}


@pytest_asyncio.fixture(scope="module")
async def slack_gateway(gateway: Gateway) -> AsyncIterator[Gateway]:
    """The gateway with a Slack signing secret, and a tenant whose emergency intake pages its team on Slack."""
    policy = yaml.safe_load((REPO / "policies" / "blockit.yaml").read_text())
    policy["tenant"] = "slackco"
    policy["contacts"]["support-team"]["chat"] = gateway.hooks.url("/services/T0/B0/slackco")
    policy["escalations"]["emergency_intake"] = {
        "steps": [{"notify": ["support-team"], "via": ["chat"], "wait": "30m"}]
    }
    with pytest.MonkeyPatch.context() as env:
        (Path(os.environ["SUPPORTFLOW_POLICY_DIR"]) / "slackco.yaml").write_text(
            yaml.safe_dump(policy, sort_keys=False)
        )
        env.setenv("SUPPORTFLOW_SLACK_HOSTS", "hooks.slack.com,127.0.0.1")  # the receiver stands in for Slack
        before = gateway.app.state.settings
        delivery = dataclasses.replace(before.delivery, slack_signing_secret=SIGNING_SECRET)
        gateway.app.state.settings = dataclasses.replace(before, delivery=delivery)
        yield gateway
        gateway.app.state.settings = before


def signed(payload: dict, *, at: int | None = None, secret: str = SIGNING_SECRET) -> tuple[bytes, dict[str, str]]:
    """The request Slack sends: form-encoded `payload`, signed with its v0 algorithm (slack_sdk's)."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(at if at is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }


def pressed(page: dict, response_url: str, user: dict = PRESSER) -> dict:
    """Slack's block_actions payload for a press of the page's Acknowledge button."""
    (button,) = next(block for block in page["blocks"] if block["type"] == "actions")["elements"]
    return {
        "type": "block_actions",
        "user": user,
        "team": {"id": "T0TEST", "domain": "example"},
        "response_url": response_url,
        "message": {"type": "message", "text": page["text"], "blocks": page["blocks"]},
        "actions": [{"action_id": button["action_id"], "value": button["value"], "type": "button"}],
    }


async def a_slack_page(gw: Gateway, title: str) -> tuple[str, dict]:
    """Open a time-critical slackco case; its emergency intake pages the team on Slack. (case id, page body)"""
    opened = await gw.post(
        "/v1/cases",
        json={
            "tenant": "slackco",
            "channel": "api",
            "subject": title,
            "description": "Nobody can check patients in.",
            "time_critical": True,
            "requester": {"email": "ana@clinic.example"},
        },
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]

    async def page() -> dict | None:
        for request in gw.hooks.requests_to("/services/T0/B0/slackco"):
            if case_id in request.body.decode():
                return request.json()
        return None

    body = await eventually(page)
    assert body, "the Slack page never arrived"
    return case_id, body


async def test_a_slack_page_carries_block_kit_with_an_acknowledge_button_holding_a_signed_token(slack_gateway):
    case_id, page = await a_slack_page(slack_gateway, "Check-in kiosk down")

    actions = [block for block in page["blocks"] if block["type"] == "actions"]
    (button,) = actions[0]["elements"]
    assert (button["type"], button["action_id"], button["text"]["text"]) == (
        "button",
        slack.ACKNOWLEDGE_ACTION,
        "Acknowledge",
    )
    claim = verify_ack_token(button["value"], datetime.now(UTC), Settings.from_env().secret("ack"))
    assert (claim.case_id, claim.contact) == (case_id, "support-team")
    assert "Check-in kiosk down" in page["blocks"][0]["text"]["text"] and "Acknowledge:" in page["text"]


async def test_pressing_acknowledge_acknowledges_as_the_slack_user_and_updates_the_message(slack_gateway):
    gw = slack_gateway
    case_id, page = await a_slack_page(gw, "Scheduling page down")
    body, headers = signed(pressed(page, gw.hooks.url("/slack/respond/1")))

    answer = await gw.http.post("/v1/slack/interactions", content=body, headers=headers)

    assert answer.status_code == 200, answer.text
    status = await gw.status(case_id)
    assert status.escalation.acknowledged_by == "ana.lopez"
    assert status.escalation.outcome == "acknowledged" and status.escalation.running == []
    (update,) = gw.hooks.requests_to("/slack/respond/1")
    message = update.json()
    assert message["replace_original"] is True
    assert not [block for block in message["blocks"] if block["type"] == "actions"]
    assert "Acknowledged by *ana.lopez*" in json.dumps(message["blocks"])


async def test_a_second_press_changes_nothing_and_tells_only_the_presser(slack_gateway):
    gw = slack_gateway
    case_id, page = await a_slack_page(gw, "Badge readers offline")
    first, headers = signed(pressed(page, gw.hooks.url("/slack/respond/2a")))
    assert (await gw.http.post("/v1/slack/interactions", content=first, headers=headers)).status_code == 200
    other = PRESSER | {"id": "U0OTHER", "username": "bo.chen"}
    again, headers = signed(pressed(page, gw.hooks.url("/slack/respond/2b"), user=other))

    answer = await gw.http.post("/v1/slack/interactions", content=again, headers=headers)

    assert answer.status_code == 200
    assert (await gw.status(case_id)).escalation.acknowledged_by == "ana.lopez"
    (note,) = gw.hooks.requests_to("/slack/respond/2b")
    assert note.json()["response_type"] == "ephemeral" and note.json()["replace_original"] is False


async def test_a_tampered_interaction_is_403_and_acknowledges_nothing(slack_gateway):
    gw = slack_gateway
    case_id, page = await a_slack_page(gw, "Door controller rebooting")
    body, headers = signed(pressed(page, gw.hooks.url("/slack/respond/3")))
    tampered = body.replace(b"ana.lopez", b"mallory")

    answer = await gw.http.post("/v1/slack/interactions", content=tampered, headers=headers)

    assert answer.status_code == 403 and "does not match" in answer.json()["error"]
    status = await gw.status(case_id)
    assert status.escalation.acknowledged_by is None and status.escalation.running == ["emergency_intake"]
    assert gw.hooks.requests_to("/slack/respond/3") == []


async def test_an_interaction_signed_more_than_five_minutes_ago_is_403_as_stale(slack_gateway):
    gw = slack_gateway
    case_id, page = await a_slack_page(gw, "Elevator access broken")
    body, headers = signed(pressed(page, gw.hooks.url("/slack/respond/4")), at=int(time.time()) - 6 * 60)

    answer = await gw.http.post("/v1/slack/interactions", content=body, headers=headers)

    assert answer.status_code == 403 and "stale" in answer.json()["error"]
    assert (await gw.status(case_id)).escalation.acknowledged_by is None


async def test_an_unsigned_or_wrongly_signed_interaction_is_403(slack_gateway):
    gw = slack_gateway
    body, headers = signed({"type": "block_actions"}, secret="someone-elses-secret")
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}

    assert (await gw.http.post("/v1/slack/interactions", content=body, headers=headers)).status_code == 403
    assert (await gw.http.post("/v1/slack/interactions", content=body, headers=unsigned)).status_code == 403


async def test_without_a_signing_secret_slack_interactions_are_503_saying_why(slack_gateway):
    gw = slack_gateway
    configured = gw.app.state.settings
    gw.app.state.settings = dataclasses.replace(
        configured, delivery=dataclasses.replace(configured.delivery, slack_signing_secret=None)
    )
    try:
        body, headers = signed({"type": "block_actions"})
        answer = await gw.http.post("/v1/slack/interactions", content=body, headers=headers)
    finally:
        gw.app.state.settings = configured

    assert answer.status_code == 503 and "SLACK_SIGNING_SECRET" in answer.json()["error"]


def test_only_slack_hosts_get_block_kit():
    settings = Settings()
    assert slack.speaks_block_kit("https://hooks.slack.com/services/T0/B0/x", settings)
    assert not slack.speaks_block_kit("https://chat.example/hooks/T1", settings)
    assert not slack.speaks_block_kit("https://hooks.slack.com.evil.example/services/x", settings)


def test_a_page_without_an_ack_link_has_no_button():
    delivery = Delivery(
        case_id="case-x-0",
        tenant="x",
        ladder="response_warning",
        contact="team",
        channel="chat",
        address="https://hooks.slack.com/services/T0/B0/x",
        case_channel="email",
        subject="Sev3 <warning> & more",
        message="Response due soon.",
        idempotency_key="k",
    )
    message = slack.page_message(delivery, None)

    assert [block["type"] for block in message["blocks"]] == ["section", "context"]
    assert "&lt;warning&gt; &amp; more" in message["blocks"][0]["text"]["text"]
