"""The words of a notification, shared so every channel says the same thing."""

from __future__ import annotations

from workflows.contracts import Delivery

SMS_LIMIT = 1600  # Twilio's maximum Body length
SPOKEN_LIMIT = 1000  # long enough for the message, short enough to listen to


def plain_text(delivery: Delivery, ack_url: str | None) -> str:
    """Email and chat body: the message, then how to acknowledge, then the case id for searching."""
    parts = [delivery.subject, delivery.message]
    if ack_url:
        parts.append(f"Acknowledge: {ack_url}")
    parts.append(f"Case {delivery.case_id}")
    return "\n\n".join(part for part in parts if part)


def sms_text(delivery: Delivery, ack_url: str | None) -> str:
    """One SMS; the message is shortened so the acknowledgement link always fits."""
    tail = f"\nAck: {ack_url}" if ack_url else ""
    head = f"{delivery.subject}: {delivery.message}"
    return _shorten(head, SMS_LIMIT - len(tail)) + tail


def spoken_text(delivery: Delivery) -> str:
    return _shorten(f"Support case for {delivery.tenant}. {delivery.subject}. {delivery.message}", SPOKEN_LIMIT)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
