"""SMS and voice through Twilio's REST API (or anything that speaks its shape).

SUPPORTFLOW_TWILIO_BASE_URL lets tests and Twilio-compatible providers stand
in for api.twilio.com. A call reads the message aloud; pressing any key
requests the acknowledgement link (Twilio fetches a Gather `action` with GET),
which is how a phone call "carries" the link DESIGN promises.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from activities.channels.failures import DeliveryRejected
from activities.channels.http import post
from activities.channels.text import sms_text, spoken_text
from activities.settings import Settings
from workflows.contracts import Delivery

API_VERSION = "2010-04-01"


async def send_sms(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    return await _create(delivery, settings, "Messages", {"Body": sms_text(delivery, ack_url)})


async def place_call(delivery: Delivery, ack_url: str | None, settings: Settings) -> str:
    return await _create(delivery, settings, "Calls", {"Twiml": twiml(delivery, ack_url)})


def twiml(delivery: Delivery, ack_url: str | None) -> str:
    said = escape(spoken_text(delivery))
    if not ack_url:
        return f"<Response><Say>{said}</Say></Response>"
    return (
        f'<Response><Gather numDigits="1" method="GET" action={quoteattr(ack_url)}>'
        f"<Say>{said} Press any key to acknowledge.</Say></Gather></Response>"
    )


async def _create(delivery: Delivery, settings: Settings, resource: str, fields: dict[str, str]) -> str:
    sid, token, sender = _account(settings)
    url = f"{settings.twilio_base_url}/{API_VERSION}/Accounts/{sid}/{resource}.json"
    form = {"To": delivery.address, "From": sender, **fields}
    response = await post(
        url, idempotency_key=delivery.idempotency_key, settings=settings, form=form, auth=(sid, token)
    )
    try:
        created = response.json()
    except ValueError:
        created = {}
    kind = "sms" if resource == "Messages" else "call"
    return f"twilio {kind} {created.get('sid', '(no sid)')} {created.get('status', 'accepted')}"


def _account(settings: Settings) -> tuple[str, str, str]:
    missing = [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
            ("SUPPORTFLOW_TWILIO_FROM", settings.twilio_from),
        )
        if not value
    ]
    if missing:
        raise DeliveryRejected(f"SMS and voice need Twilio settings; set {', '.join(missing)} for the worker")
    return settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from  # type: ignore[return-value]
