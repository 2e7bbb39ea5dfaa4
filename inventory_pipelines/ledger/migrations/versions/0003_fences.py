"""Fences and channel jobs: the epoch ring-fenced sales are counted from; the drops channels
showed that no order explains yet; submissions a channel processes later (Amazon feeds),
tracked until the channel says they are done; indexes for the per-SKU hold.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the fence epochs; index the outbox by status and direction, sales by time."""
    op.create_table(
        "fence_epochs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fence_epochs"),
    )
    op.create_table(
        "channel_jobs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("batch_key", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("submitted_at", Timestamp, nullable=False),
        sa.Column("settled_at", Timestamp, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_jobs"),
        sa.UniqueConstraint("channel", "job_id", name="uq_channel_jobs_channel_job_id"),
        sa.CheckConstraint(
            "status IN ('open', 'settled', 'cancelled')", name="ck_channel_jobs_status"
        ),
    )
    op.create_index("ix_channel_jobs_channel_status", "channel_jobs", ["channel", "status"])
    op.create_table(
        "channel_drops",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("listing_id", sa.String(255), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("observed_at", Timestamp, nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_drops"),
        sa.CheckConstraint("units > 0", name="ck_channel_drops_units"),
    )
    op.create_index("ix_channel_drops_observed_at", "channel_drops", ["observed_at"])
    op.create_index("ix_outbox_status_direction", "outbox", ["status", "direction"])
    op.create_index("ix_outbox_channel_listing_id", "outbox", ["channel", "listing_id"])
    op.create_index("ix_pending_units_accepted_at", "pending_units", ["accepted_at"])


def downgrade() -> None:
    """Drop what `upgrade` created."""
    op.drop_index("ix_pending_units_accepted_at", table_name="pending_units")
    op.drop_index("ix_outbox_channel_listing_id", table_name="outbox")
    op.drop_index("ix_outbox_status_direction", table_name="outbox")
    op.drop_index("ix_channel_drops_observed_at", table_name="channel_drops")
    op.drop_table("channel_drops")
    op.drop_index("ix_channel_jobs_channel_status", table_name="channel_jobs")
    op.drop_table("channel_jobs")
    op.drop_table("fence_epochs")
