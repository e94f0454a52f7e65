"""The SMS and voice page log a delivery writes (Decision 11), so a reply of `ACK` finds the case it is about."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from activities.archive import archiver_for
from archive.pages import Page
from archive.store import archive_url
from workflows.contracts import Delivery

log = logging.getLogger("supportflow.deliver")
PAGED_BY_PHONE = frozenset({"sms", "voice"})


async def log_page(delivery: Delivery, at: datetime) -> None:
    """The page reached the phone already: a log that cannot be written costs only the SMS reply (the ack link
    in the page still works), so it is logged, never a reason to send the page again."""
    if delivery.channel not in PAGED_BY_PHONE:
        return
    page = Page(delivery.address, delivery.tenant, delivery.case_id, delivery.contact, at)
    try:
        await asyncio.to_thread(archiver_for(archive_url()).log_page, page, delivery.idempotency_key)
    except Exception as trouble:
        log.warning("the page to %s for %s is not in the page log: %s", delivery.contact, delivery.case_id, trouble)
