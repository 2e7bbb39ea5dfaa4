"""Dirty SKUs: what changed in Odoo and waits for the next batch refresh, with its claim.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the dirty SKUs, indexed by claim and by age."""
    op.create_table(
        "dirty_skus",
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
        sa.Column("first_marked_at", Timestamp, nullable=False),
        sa.Column("last_marked_at", Timestamp, nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("claim", sa.String(255), nullable=True),
        sa.Column("claimed_at", Timestamp, nullable=True),
        sa.Column("claimed_marks", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("sku", name="pk_dirty_skus"),
    )
    op.create_index("ix_dirty_skus_claim", "dirty_skus", ["claim"])
    op.create_index("ix_dirty_skus_first_marked_at", "dirty_skus", ["first_marked_at"])


def downgrade() -> None:
    """Drop what `upgrade` created."""
    op.drop_index("ix_dirty_skus_first_marked_at", table_name="dirty_skus")
    op.drop_index("ix_dirty_skus_claim", table_name="dirty_skus")
    op.drop_table("dirty_skus")
