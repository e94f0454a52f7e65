"""The `deliver` activity against real receivers: one attempt at a time, then retried by a real Temporal server.

Receivers and the time-skipping server (`time_skipping_env`, with the
pydantic data converter) come from conftest.py.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from delivery_fixtures import ACK_SECRET, PUBLIC_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from delivery_workflow import DeliverOnce
from receivers import DEFER, REFUSE, Reply, SmtpReceiver, refused_port, refused_url
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

import workflows.delivery_policy
from activities.channels.email import message_id
from activities.deliver import deliver
from signed_links import AckLinkExpired, AckLinkInvalid, verify_ack_token
from signed_links import ack_url as signed_ack_url
from workflows.contracts import Delivery, DeliveryResult, WebhookBody
from workflows.delivery_policy import (
    DELIVERY_RETRY,
    DELIVERY_SCHEDULE_TO_CLOSE,
    DELIVERY_START_TO_CLOSE,
    delivery_failure,
)

CASE_ID = "case-blockit-0123456789abcdef01234567"
SCHEDULED = datetime(2027, 1, 8, 22, 30, tzinfo=UTC)
ACK_LIFETIME = timedelta(days=7)


def a_delivery(
    channel: str, address: str, *, ladder: str = "response_breach", contact: str = "support-lead"
) -> Delivery:
    return Delivery(
        case_id=CASE_ID,
        tenant="blockit",
        ladder=ladder,
        run=1,
        step=2,
        round=1,
        contact=contact,
        channel=channel,
        address=address,
        case_channel="email",
        subject="Sev1 response breach: Scheduling page down",
        message="Nobody has responded for 30 minutes.",
        idempotency_key=f"{CASE_ID}:{ladder}:1:1:2:{contact}:{channel}",
    )


async def attempt(delivery: Delivery, number: int = 1) -> DeliveryResult:
    """One attempt, as the worker would run it, first scheduled at SCHEDULED."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, attempt=number, scheduled_time=SCHEDULED, current_attempt_scheduled_time=SCHEDULED
    )
    return await env.run(deliver, delivery)


async def failed_attempt(delivery: Delivery, number: int = 1) -> ApplicationError:
    with pytest.raises(ApplicationError) as failed:
        await attempt(delivery, number)
    return failed.value


def the_link_in(text: str) -> str:
    return re.search(r"http://gateway\.test/v1/ack/[A-Za-z0-9_.-]+", text).group(0)  # type: ignore[union-attr]


def claim_of(link: str, now: datetime = SCHEDULED):
    return verify_ack_token(link.rsplit("/", 1)[1], now, ACK_SECRET)


def ack_url(case_id: str, contact: str, expires_at: datetime, secret: str = ACK_SECRET) -> str | None:
    return signed_ack_url(PUBLIC_URL, case_id, contact, expires_at, secret)


def assert_retryable(failure: ApplicationError, number: int = 1) -> None:
    assert (failure.type, failure.non_retryable) == ("DeliveryUnavailable", False)
    assert failure.details[0]["attempt"] == number and failure.details[0]["error"]


def assert_permanent(failure: ApplicationError, number: int = 1) -> None:
    assert (failure.type, failure.non_retryable) == ("DeliveryRejected", True)
    assert failure.details[0]["attempt"] == number and failure.details[0]["error"]


# --- webhook and chat: one attempt ----------------------------------------------


async def test_webhook_posts_the_contract_body_with_the_idempotency_key(http_receiver, ack_settings):
    delivery = a_delivery("webhook", http_receiver.url("/hooks/blockit"))

    result = await attempt(delivery)

    assert result.attempts == 1
    (request,) = http_receiver.requests_to("/hooks/blockit")
    assert request.method == "POST"
    assert request.headers["idempotency-key"] == delivery.idempotency_key
    body = WebhookBody.model_validate(request.json())
    assert set(request.json()) == set(WebhookBody.model_fields)
    assert (body.case_id, body.ladder, body.step, body.round, body.contact) == (
        CASE_ID,
        "response_breach",
        2,
        1,
        "support-lead",
    )
    assert (body.channel, body.case_channel, body.idempotency_key) == ("webhook", "email", delivery.idempotency_key)
    claim = claim_of(body.ack_url)
    assert (claim.case_id, claim.contact) == (CASE_ID, "support-lead")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_webhook_busy_or_broken_is_retryable(http_receiver, status):
    http_receiver.script("/hook", status)

    failure = await failed_attempt(a_delivery("webhook", http_receiver.url("/hook")), number=4)

    assert_retryable(failure, number=4)
    assert f"HTTP {status}" in failure.details[0]["error"]


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_webhook_refusal_is_permanent(http_receiver, status):
    http_receiver.script("/hook", Reply(status, json={"error": "no such hook"}))

    failure = await failed_attempt(a_delivery("webhook", http_receiver.url("/hook")))

    assert_permanent(failure)
    assert f"HTTP {status}" in failure.details[0]["error"] and "no such hook" in failure.details[0]["error"]


async def test_webhook_redirect_is_permanent_and_not_followed(http_receiver):
    http_receiver.script("/hook", Reply(301, headers={"Location": http_receiver.url("/moved")}))

    failure = await failed_attempt(a_delivery("webhook", http_receiver.url("/hook")))

    assert_permanent(failure)
    assert "redirects are not followed" in failure.details[0]["error"]
    assert http_receiver.requests_to("/moved") == []


async def test_webhook_connection_refused_is_retryable():
    failure = await failed_attempt(a_delivery("webhook", refused_url("/hook")))

    assert_retryable(failure)
    assert "could not be reached" in failure.details[0]["error"]


async def test_webhook_that_does_not_answer_in_time_is_retryable(http_receiver, monkeypatch):
    monkeypatch.setenv("SUPPORTFLOW_DELIVERY_TIMEOUT", "0.1")
    http_receiver.script("/slow", Reply(200, delay=0.5))

    failure = await failed_attempt(a_delivery("webhook", http_receiver.url("/slow")))

    assert_retryable(failure)
    assert "did not answer within 0.1 s" in failure.details[0]["error"]


async def test_retry_after_is_honoured_up_to_the_maximum_interval(http_receiver):
    http_receiver.script("/hook", Reply(429, headers={"Retry-After": "7"}), Reply(503, headers={"Retry-After": "3600"}))
    delivery = a_delivery("webhook", http_receiver.url("/hook"))

    assert (await failed_attempt(delivery)).next_retry_delay == timedelta(seconds=7)
    assert (await failed_attempt(delivery)).next_retry_delay == timedelta(seconds=60)


async def test_error_text_never_shows_the_secret_part_of_a_webhook_url(http_receiver):
    http_receiver.script("/services/T000/B000/s3cr3t", 500)

    failure = await failed_attempt(a_delivery("chat", http_receiver.url("/services/T000/B000/s3cr3t")))

    assert "s3cr3t" not in failure.details[0]["error"] and "s3cr3t" not in failure.message


async def test_chat_posts_slack_text_with_the_ack_link(http_receiver, ack_settings):
    delivery = a_delivery("chat", http_receiver.url("/services/T1"))

    await attempt(delivery)

    (request,) = http_receiver.requests
    assert set(request.json()) == {"text"}
    assert request.headers["idempotency-key"] == delivery.idempotency_key
    text = request.json()["text"]
    assert delivery.subject in text and delivery.message in text and CASE_ID in text
    assert claim_of(the_link_in(text)).contact == "support-lead"


async def test_messages_to_the_requester_carry_no_ack_link(http_receiver, ack_settings):
    await attempt(a_delivery("webhook", http_receiver.url("/hook"), ladder="requester_ack", contact="requester"))

    assert http_receiver.requests[0].json()["ack_url"] is None


# --- SMS and voice through a stand-in Twilio ------------------------------------


async def test_sms_is_a_twilio_message_with_basic_auth_and_the_ack_link(twilio_receiver, ack_settings):
    delivery = a_delivery("sms", "+15555550100")

    result = await attempt(delivery)

    (request,) = twilio_receiver.requests_to(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.basic_auth == (TWILIO_SID, TWILIO_TOKEN)
    assert request.headers["idempotency-key"] == delivery.idempotency_key
    form = request.form()
    assert (form["To"], form["From"]) == ("+15555550100", TWILIO_FROM)
    assert delivery.subject in form["Body"] and len(form["Body"]) <= 1600
    assert claim_of(the_link_in(form["Body"])).case_id == CASE_ID
    assert result.detail == "twilio sms SMtest queued"


async def test_long_sms_is_shortened_but_keeps_the_ack_link(twilio_receiver, ack_settings):
    delivery = a_delivery("sms", "+15555550100").model_copy(update={"message": "x" * 5000})

    await attempt(delivery)

    body = twilio_receiver.requests[0].form()["Body"]
    assert len(body) == 1600
    assert claim_of(the_link_in(body)).contact == "support-lead"


async def test_voice_call_reads_the_message_and_a_key_press_acknowledges(twilio_receiver, ack_settings):
    delivery = a_delivery("voice", "+15555550100")

    await attempt(delivery)

    (request,) = twilio_receiver.requests_to(f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json")
    assert request.basic_auth == (TWILIO_SID, TWILIO_TOKEN)
    form = request.form()
    assert (form["To"], form["From"]) == ("+15555550100", TWILIO_FROM)
    response = ET.fromstring(form["Twiml"])
    gather = response.find("Gather")
    assert response.tag == "Response" and gather is not None and gather.get("method") == "GET"
    assert claim_of(gather.get("action")).contact == "support-lead"
    said = gather.find("Say").text
    assert delivery.message in said and "Press any key to acknowledge" in said


async def test_sms_without_twilio_credentials_is_permanent_and_says_what_to_set(twilio_receiver, monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.delenv("SUPPORTFLOW_TWILIO_FROM")

    failure = await failed_attempt(a_delivery("sms", "+15555550100"))

    assert_permanent(failure)
    assert (
        "TWILIO_AUTH_TOKEN" in failure.details[0]["error"] and "SUPPORTFLOW_TWILIO_FROM" in failure.details[0]["error"]
    )
    assert twilio_receiver.requests == []


async def test_twilio_refusing_a_number_is_permanent(twilio_receiver):
    path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    twilio_receiver.script(
        path, Reply(400, json={"code": 21211, "message": "The 'To' number is not a valid phone number."})
    )

    failure = await failed_attempt(a_delivery("sms", "+15555550100"))

    assert_permanent(failure)
    assert "not a valid phone number" in failure.details[0]["error"]


async def test_twilio_rate_limit_is_retryable(twilio_receiver):
    twilio_receiver.script(f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json", 429)

    assert_retryable(await failed_attempt(a_delivery("voice", "+15555550100")))


# --- email through a real SMTP server -------------------------------------------


async def test_email_carries_the_idempotency_key_a_case_message_id_and_the_ack_link(
    smtp_receiver, ack_settings, monkeypatch
):
    monkeypatch.setenv("SUPPORTFLOW_SMTP_FROM", "support@blockit.example")
    delivery = a_delivery("email", "lead@blockit.example")

    result = await attempt(delivery)

    (mail,) = smtp_receiver.messages
    assert (mail.mail_from, mail.rcpt_tos) == ("support@blockit.example", ["lead@blockit.example"])
    assert mail.message["Idempotency-Key"] == delivery.idempotency_key
    assert mail.message["Message-ID"] == message_id(CASE_ID, delivery.idempotency_key)
    assert mail.message["Subject"] == delivery.subject
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert delivery.message in mail.text
    assert claim_of(the_link_in(mail.text)).contact == "support-lead"
    assert mail.message["Message-ID"] in result.detail


def test_message_id_is_stable_and_names_the_case():
    key = f"{CASE_ID}:response_breach:1:1:2:support-lead:email"

    first, again = message_id(CASE_ID, key), message_id(CASE_ID, key)

    assert first == again != message_id(CASE_ID, key + "x")
    assert re.fullmatch(rf"<{CASE_ID}\.[0-9a-f]{{16}}@supportflow\.invalid>", first)


async def test_smtp_temporary_refusal_is_retryable(smtp_receiver):
    smtp_receiver.script(DEFER)

    failure = await failed_attempt(a_delivery("email", "lead@blockit.example"), number=2)

    assert_retryable(failure, number=2)
    assert "451" in failure.details[0]["error"]


async def test_smtp_permanent_refusal_is_permanent(smtp_receiver):
    smtp_receiver.script(REFUSE)

    failure = await failed_attempt(a_delivery("email", "lead@blockit.example"))

    assert_permanent(failure)
    assert "550" in failure.details[0]["error"]


async def test_smtp_server_down_is_retryable(monkeypatch):
    monkeypatch.setenv("SUPPORTFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SUPPORTFLOW_SMTP_PORT", str(refused_port()))

    assert_retryable(await failed_attempt(a_delivery("email", "lead@blockit.example")))


async def test_smtp_login_is_used_when_configured(monkeypatch):
    async with SmtpReceiver(login=("supportflow", "hunter2")) as smtp:
        for name, value in smtp.env().items():
            monkeypatch.setenv(name, value)
        await attempt(a_delivery("email", "lead@blockit.example"))

        monkeypatch.setenv("SUPPORTFLOW_SMTP_PASSWORD", "wrong")
        failure = await failed_attempt(a_delivery("email", "lead@blockit.example"))

    assert [mail.login for mail in smtp.messages] == ["supportflow"]
    assert_permanent(failure)
    assert "535" in failure.details[0]["error"]


async def test_unknown_smtp_tls_mode_is_permanent_and_names_the_variable(monkeypatch):
    monkeypatch.setenv("SUPPORTFLOW_SMTP_TLS", "tls1.3")

    failure = await failed_attempt(a_delivery("email", "lead@blockit.example"))

    assert_permanent(failure)
    assert "SUPPORTFLOW_SMTP_TLS" in failure.details[0]["error"]


# --- acknowledgement links ------------------------------------------------------


def test_ack_link_round_trip(ack_settings):
    link = ack_url(CASE_ID, "support-lead", SCHEDULED + ACK_LIFETIME)

    assert link.startswith("http://gateway.test/v1/ack/")
    claim = claim_of(link)
    assert (claim.case_id, claim.contact, claim.expires_at) == (CASE_ID, "support-lead", SCHEDULED + ACK_LIFETIME)


def test_ack_link_for_nobody_is_none(ack_settings):
    assert ack_url(CASE_ID, "", SCHEDULED) is None


def test_ack_link_with_an_edited_contact_is_refused(ack_settings):
    token = ack_url(CASE_ID, "support-lead", SCHEDULED + ACK_LIFETIME).rsplit("/", 1)[1]
    payload, signature = token.split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claim, "contact": "mallory"}).encode()).rstrip(b"=").decode()

    with pytest.raises(AckLinkInvalid, match="altered"):
        verify_ack_token(f"{forged}.{signature}", SCHEDULED, ACK_SECRET)


def test_ack_link_signed_with_another_secret_is_refused(ack_settings):
    token = ack_url(CASE_ID, "support-lead", SCHEDULED + ACK_LIFETIME, "someone-else").rsplit("/", 1)[1]

    with pytest.raises(AckLinkInvalid):
        verify_ack_token(token, SCHEDULED, ACK_SECRET)


@pytest.mark.parametrize("token", ["", "no-dot", "a.b", ".", "x" * 40 + "."])
def test_damaged_ack_link_is_refused(ack_settings, token):
    with pytest.raises(AckLinkInvalid):
        verify_ack_token(token, SCHEDULED, ACK_SECRET)


def test_expired_ack_link_is_refused_with_its_expiry(ack_settings):
    token = ack_url(CASE_ID, "support-lead", SCHEDULED + ACK_LIFETIME).rsplit("/", 1)[1]

    assert verify_ack_token(token, SCHEDULED + ACK_LIFETIME - timedelta(seconds=1), ACK_SECRET)
    with pytest.raises(AckLinkExpired, match="expired at 2027-01-15T22:30:00"):
        verify_ack_token(token, SCHEDULED + ACK_LIFETIME, ACK_SECRET)


async def test_every_attempt_signs_the_same_link_valid_for_seven_days_from_scheduling(http_receiver, ack_settings):
    delivery = a_delivery("webhook", http_receiver.url("/hook"))

    await attempt(delivery, number=1)
    await attempt(delivery, number=5)

    first, fifth = (r.json()["ack_url"] for r in http_receiver.requests)
    assert first == fifth
    assert claim_of(first).expires_at == SCHEDULED + ACK_LIFETIME


# --- retries through a real (time-skipping) Temporal server ---------------------


def test_retry_policy_is_the_one_design_promises():
    assert (DELIVERY_RETRY.initial_interval, DELIVERY_RETRY.backoff_coefficient, DELIVERY_RETRY.maximum_interval) == (
        timedelta(seconds=1),
        2.0,
        timedelta(seconds=60),
    )
    assert DELIVERY_RETRY.maximum_attempts == 0
    assert timedelta(hours=1) == DELIVERY_SCHEDULE_TO_CLOSE
    assert timedelta(seconds=30) == DELIVERY_START_TO_CLOSE


def test_delivery_policy_imports_nothing_with_io():
    tree = ast.parse(Path(workflows.delivery_policy.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"datetime", "temporalio.common"}


async def deliver_through_temporal(env: WorkflowEnvironment, delivery: Delivery) -> DeliveryResult:
    task_queue = f"deliver-{uuid.uuid4().hex}"
    async with Worker(env.client, task_queue=task_queue, workflows=[DeliverOnce], activities=[deliver]):
        return await env.client.execute_workflow(
            DeliverOnce.run, delivery, id=f"deliver-{uuid.uuid4().hex}", task_queue=task_queue
        )


async def test_endpoint_failing_twice_gets_the_same_delivery_three_times_then_succeeds(
    time_skipping_env, http_receiver, ack_settings
):
    http_receiver.script("/hook", 503, 503, 200)
    delivery = a_delivery("webhook", http_receiver.url("/hook"))

    result = await deliver_through_temporal(time_skipping_env, delivery)

    assert result.attempts == 3
    requests = http_receiver.requests_to("/hook")
    assert [r.status for r in requests] == [503, 503, 200]
    assert {r.headers["idempotency-key"] for r in requests} == {delivery.idempotency_key}
    assert len({r.body for r in requests}) == 1  # same bytes every time, ack link included
    assert claim_of(requests[0].json()["ack_url"], now=datetime.now(UTC)).contact == "support-lead"


async def test_webhook_400_is_tried_once_and_fails_with_a_non_retryable_cause(time_skipping_env, http_receiver):
    http_receiver.script("/hook", Reply(400, json={"error": "unknown channel"}))

    with pytest.raises(WorkflowFailureError) as failed:
        await deliver_through_temporal(time_skipping_env, a_delivery("webhook", http_receiver.url("/hook")))

    activity_error = failed.value.cause
    assert isinstance(activity_error, ActivityError) and activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable and cause.type == "DeliveryRejected"
    assert len(http_receiver.requests_to("/hook")) == 1
    attempts, last_error = delivery_failure(activity_error)
    assert attempts == 1 and "HTTP 400" in last_error and "unknown channel" in last_error


async def test_email_deferred_once_is_resent_with_the_same_message_id(time_skipping_env, smtp_receiver):
    smtp_receiver.script(DEFER)
    delivery = a_delivery("email", "lead@blockit.example")

    result = await deliver_through_temporal(time_skipping_env, delivery)

    assert result.attempts == 2
    deferred, accepted = smtp_receiver.attempts
    assert (deferred.reply[:3], accepted.reply[:3]) == ("451", "250")
    assert (
        deferred.message["Message-ID"]
        == accepted.message["Message-ID"]
        == message_id(CASE_ID, delivery.idempotency_key)
    )
    assert deferred.message["Idempotency-Key"] == accepted.message["Idempotency-Key"] == delivery.idempotency_key


async def test_delivery_that_never_succeeds_gives_up_after_an_hour_with_its_last_error(
    time_skipping_env, http_receiver
):
    http_receiver.script("/hook", *[503] * 200)

    with pytest.raises(WorkflowFailureError) as failed:
        await deliver_through_temporal(time_skipping_env, a_delivery("webhook", http_receiver.url("/hook")))

    activity_error = failed.value.cause
    assert isinstance(activity_error, ActivityError) and activity_error.retry_state == RetryState.TIMEOUT
    attempts, last_error = delivery_failure(activity_error)
    # 1 + 2 + … + 32 s, then one a minute until the hour is up.
    assert 60 <= len(http_receiver.requests_to("/hook")) <= 70
    assert attempts == len(http_receiver.requests_to("/hook"))
    assert "HTTP 503" in last_error
