"""The archive's tables, as SQLAlchemy Core: what the migrations create and what `store` reads and writes.

Index columns stay in clear so reports and the portal can filter on them;
`cases.status` holds the whole `CaseStatus`, encrypted when a key is set.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("tenant", String(100), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("state", String(40), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("received_at", DateTime, nullable=False),  # UTC, without zone: compared as such on every database
    Column("closed", Boolean, nullable=False),
    Column("closed_at", DateTime, nullable=True),
    Column("closed_reason", Text, nullable=True),
    Column("breached", Boolean, nullable=False),
    # RequesterEmail's value: the lower-cased address, or `hmac:<hex>` when payloads are encrypted.
    Column("requester", String(320), nullable=True),
    # The number of timeline entries: a case's timeline only grows, so a later status has a higher version.
    Column("version", Integer, nullable=False),
    Column("status_encoding", String(40), nullable=False),  # json/plain or binary/encrypted
    Column("status", LargeBinary, nullable=False),
    Index("ix_cases_tenant_received", "tenant", "received_at"),
    Index("ix_cases_tenant_requester", "tenant", "requester", "closed"),
)

pages = Table(
    "pages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(32), nullable=False),
    Column("tenant", String(100), nullable=False),
    Column("case_id", String(200), nullable=False),
    Column("contact", String(200), nullable=False),
    Column("at", DateTime, nullable=False),  # UTC, without zone
    # The delivery's idempotency key, when given: a retried page is logged once.
    Column("idempotency_key", String(400), nullable=True, unique=True),
    Index("ix_pages_phone_at", "phone", "at"),
)
