"""The case archive: cases (one row per case, the whole CaseStatus) and the SMS/voice page log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=True),
        sa.Column("closed_reason", sa.Text, nullable=True),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("requester", sa.String(320), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status_encoding", sa.String(40), nullable=False),
        sa.Column("status", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_cases_tenant_received", "cases", ["tenant", "received_at"])
    op.create_index("ix_cases_tenant_requester", "cases", ["tenant", "requester", "closed"])
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(100), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("idempotency_key", sa.String(400), nullable=True, unique=True),
    )
    op.create_index("ix_pages_phone_at", "pages", ["phone", "at"])


def downgrade() -> None:
    op.drop_table("pages")
    op.drop_table("cases")
