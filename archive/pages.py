"""The SMS and voice page log (DESIGN Decision 11): which case a number was paged about, so a reply of `ACK`
to `POST /v1/twilio/sms` acknowledges the case that number was paged for most recently (within 24 h)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from archive.schema import pages
from archive.store import DIALECTS, Archive, utc

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Page:
    phone: str  # E.164, as dialled
    tenant: str
    case_id: str
    contact: str  # the policy's contact id
    at: datetime


def record_page(archive: Archive, page: Page, idempotency_key: str | None = None) -> bool:
    """Log one page; with the delivery's idempotency key, a retried page is logged once. True when logged."""
    row = {
        "phone": page.phone,
        "tenant": page.tenant,
        "case_id": page.case_id,
        "contact": page.contact,
        "at": utc(page.at),
        "idempotency_key": idempotency_key,
    }
    insert = DIALECTS[archive.dialect](pages).values(row)
    if idempotency_key is not None:
        insert = insert.on_conflict_do_nothing(index_elements=[pages.c.idempotency_key])
    with archive.connected() as connection:  # RETURNING names the row only when it was logged
        return connection.execute(insert.returning(pages.c.id)).first() is not None


def latest_page_to(archive: Archive, phone: str, now: datetime, within: timedelta = DAY) -> Page | None:
    """The most recent page to `phone` in (now − within, now], or None (an unknown number)."""
    archive.require_schema()
    query = (
        select(pages.c.phone, pages.c.tenant, pages.c.case_id, pages.c.contact, pages.c.at)
        .where(pages.c.phone == phone, pages.c.at > utc(now - within), pages.c.at <= utc(now))
        .order_by(pages.c.at.desc(), pages.c.id.desc())
        .limit(1)
    )
    with archive.connected() as connection:
        found = connection.execute(query).first()
    if found is None:
        return None
    return Page(found.phone, found.tenant, found.case_id, found.contact, found.at.replace(tzinfo=UTC))
