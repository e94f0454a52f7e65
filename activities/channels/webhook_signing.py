"""Standard Webhooks signatures for outbound webhooks (DESIGN "Phone, SMS, mailbox and chat", Decision 19).

The secret is the contact's `webhook_secret_env`, else the policy's, else
SUPPORTFLOW_WEBHOOK_SECRET; with none of them the webhook goes unsigned.
`webhook-id` is the delivery's idempotency key, so a receiver deduplicates
retries by it. `webhook-timestamp` is the attempt's own time: receivers
refuse a timestamp more than five minutes old, and retries run for an hour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime

from standardwebhooks.webhooks import Webhook

import tenant_policies
from activities.channels.failures import DeliveryRejected, DeliveryUnavailable
from activities.settings import Settings, SettingsError, webhook_secret
from workflows.contracts import Delivery
from workflows.policy import Policy


def signed_headers(
    delivery: Delivery, content: bytes, at: datetime, settings: Settings, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for `content`, or none when no secret applies."""
    secret = secret_for(delivery, settings, os.environ if env is None else env)
    if secret is None:
        return {}
    webhook_id = delivery.idempotency_key
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, content),
    }


def secret_for(delivery: Delivery, settings: Settings, env: Mapping[str, str]) -> str | None:
    """Decision 19's precedence. A variable the policy names but the worker lacks is an error, never an unsigned post."""
    policy = _tenant_policy(delivery.tenant)
    contact = policy.contacts.get(delivery.contact) if policy else None
    named = (contact.webhook_secret_env if contact else None) or (policy.webhook_secret_env if policy else None)
    if named is None:
        return settings.webhook_secret
    try:
        secret = webhook_secret(env, named)
    except SettingsError as problem:
        raise DeliveryRejected(f"{problem} (the {delivery.tenant} policy names it for {delivery.contact})") from None
    if secret is None:
        raise DeliveryRejected(
            f"the {delivery.tenant} policy signs {delivery.contact}'s webhooks with {named}, "
            "which is not set for the worker"
        )
    return secret


def _tenant_policy(tenant: str) -> Policy | None:
    """The tenant's file as it is now (secrets follow the file, like the outside world it describes)."""
    try:
        return tenant_policies.tenant_policy(tenant)
    except tenant_policies.UnknownTenant:
        return None
    except tenant_policies.PolicyError as problem:
        raise DeliveryUnavailable(f"the {tenant} policy cannot be read to find the webhook secret: {problem}") from None
