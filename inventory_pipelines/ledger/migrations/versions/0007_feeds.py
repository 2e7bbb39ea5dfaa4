"""Supplier feeds: each vendor's or 3PL's last good fetch (validators, digest, its parse's key).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the supplier feeds table, one row per feed."""
    op.create_table(
        "supply_feeds",
        sa.Column("feed", sa.String(128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("object_name", sa.Text(), nullable=True),
        sa.Column("content_digest", sa.String(64), nullable=True),
        sa.Column("cache_key", sa.String(255), nullable=True),
        sa.Column("feed_as_of", Timestamp, nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("fetched_at", Timestamp, nullable=True),
        sa.Column("checked_at", Timestamp, nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("feed", name="pk_supply_feeds"),
    )


def downgrade() -> None:
    """Drop what `upgrade` created."""
    op.drop_table("supply_feeds")
