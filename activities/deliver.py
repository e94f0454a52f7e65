"""The `deliver` activity: one notification over one channel, one attempt per call.

Temporal does the retrying (workflows/delivery_policy.py), so this module
only has to say, per attempt, whether a failure is worth another try:
`DeliveryRejected` is raised non-retryable, `DeliveryUnavailable` retryable,
both with details `{"attempt": n, "error": "..."}` for the timeline, and
without a Python cause chain, which would only repeat the error in history.
Everything an attempt sends is a function of the Delivery and the activity's
first scheduling time, so every retry sends the same bytes under the same
idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import outbox, page_log
from activities.channels import chat, email, twilio, webhook
from activities.channels.failures import DeliveryFailed, DeliveryRejected, DeliveryUnavailable
from activities.settings import Settings, SettingsError
from signed_links import ACK_LINK_LIFETIME, PORTAL_LINK_LIFETIME, ack_url, portal_url
from workflows.contracts import Delivery, DeliveryResult
from workflows.delivery_policy import DELIVER_ACTIVITY, DELIVERY_REJECTED, DELIVERY_UNAVAILABLE

Channel = Callable[[Delivery, "str | None", Settings], Awaitable[str]]
CHANNELS: dict[str, Channel] = {
    "webhook": webhook.send,
    "chat": chat.send,
    "sms": twilio.send_sms,
    "voice": twilio.place_call,
    "email": email.send,
}
# Messages to the requester carry no acknowledgement link: acknowledging
# stops the escalation ladders, which is the support team's call, not theirs.
REQUESTER_LADDERS = frozenset({"requester_ack", "missing_fields", "requester_reply"})
log = logging.getLogger("supportflow.deliver")


@activity.defn(name=DELIVER_ACTIVITY)
async def deliver(delivery: Delivery) -> DeliveryResult:
    info = activity.info()
    try:
        settings = Settings.from_env()
        link = None
        if delivery.ladder not in REQUESTER_LADDERS:
            # The first scheduling time, not this attempt's: every retry signs the same link.
            expires_at = info.scheduled_time + ACK_LINK_LIFETIME
            link = ack_url(settings.public_url, delivery.case_id, delivery.contact, expires_at, settings.secret("ack"))
        if delivery.ladder == "requester_ack" and delivery.channel == "email":
            delivery = with_portal_link(delivery, info.scheduled_time, settings)
        detail = await send(delivery, link, settings, info.attempt)
    except DeliveryFailed as failure:
        raise _application_error(delivery, failure, info.attempt) from None
    except SettingsError as problem:
        raise _application_error(delivery, DeliveryRejected(str(problem)), info.attempt) from None
    except Exception as problem:
        # A bug, not the receiver: keep retrying so a fixed worker can still deliver within the hour.
        activity.logger.exception("deliver: unexpected failure")
        unexpected = DeliveryUnavailable(f"unexpected {type(problem).__name__}: {problem}")
        raise _application_error(delivery, unexpected, info.attempt) from None
    activity.logger.info("deliver: %s to %s: %s (attempt %d)", delivery.channel, delivery.contact, detail, info.attempt)
    _count(delivery, "delivered")
    if delivery.ladder not in REQUESTER_LADDERS:
        await page_log.log_page(delivery, info.scheduled_time)
    return DeliveryResult(attempts=info.attempt, detail=detail)


async def send(delivery: Delivery, link: str | None, settings: Settings, attempt: int = 1) -> str:
    """One attempt over the delivery's channel (to the outbox's stand-ins in outbox mode), and its outcome
    reported to the outbox. Raises DeliveryFailed; the gateway's portal sign-in link goes this way too."""
    try:
        sent, via = outbox.routed(delivery, settings)
        detail = await CHANNELS[delivery.channel](sent, link, via)
    except DeliveryFailed as failure:
        await outbox.report(delivery, attempt, failure, link, settings)
        raise
    except SettingsError as problem:
        rejected = DeliveryRejected(str(problem))
        await outbox.report(delivery, attempt, rejected, link, settings)
        raise rejected from None
    except Exception as problem:
        # A bug, not the receiver: keep retrying so a fixed worker can still deliver within the hour.
        log.exception("deliver: unexpected failure")
        unexpected = DeliveryUnavailable(f"unexpected {type(problem).__name__}: {problem}")
        await outbox.report(delivery, attempt, unexpected, link, settings)
        raise unexpected from None
    await outbox.report(delivery, attempt, None, link, settings)
    return detail


def with_portal_link(delivery: Delivery, scheduled: datetime, settings: Settings) -> Delivery:
    """The acknowledgement email lets the requester follow their cases (signed from the first scheduling, so retries match)."""
    expires_at = scheduled + PORTAL_LINK_LIFETIME
    url = portal_url(settings.public_url, delivery.tenant, delivery.address, expires_at, settings.secret("portal"))
    return delivery.model_copy(update={"message": f"{delivery.message}\n\nFollow your open requests: {url}"})


def _count(delivery: Delivery, outcome: str) -> None:
    """Every attempt's outcome, by channel: delivered, retrying or rejected."""
    activity.metric_meter().create_counter(
        "supportflow_deliveries", "Delivery attempts by channel and outcome", "attempts"
    ).add(1, {"channel": delivery.channel, "outcome": outcome})


def _application_error(delivery: Delivery, failure: DeliveryFailed, attempt: int) -> ApplicationError:
    activity.logger.warning(
        "deliver: %s to %s failed on attempt %d: %s", delivery.channel, delivery.contact, attempt, failure.error
    )
    _count(delivery, "retrying" if failure.retryable else "rejected")
    return ApplicationError(
        f"{delivery.channel} to {delivery.contact}: {failure.error}",
        {"attempt": attempt, "error": failure.error},
        type=DELIVERY_UNAVAILABLE if failure.retryable else DELIVERY_REJECTED,
        non_retryable=not failure.retryable,
        next_retry_delay=failure.retry_after,
    )
