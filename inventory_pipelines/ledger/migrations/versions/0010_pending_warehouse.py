"""Pending units: the warehouse Odoo reserved an order's units in.

A ring-fenced channel's fence is its share of its own pool as it would be had no fenced channel
sold; a sale shipped from a warehouse outside that pool never took from it. Once Odoo holds an
order, `warehouse` says where (the code of the order's warehouse); null while it is pending,
and for rows from before this revision, whose units count as taken from every pool (as before).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `pending_units.warehouse` (nullable)."""
    with op.batch_alter_table("pending_units") as batch:
        batch.add_column(sa.Column("warehouse", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("pending_units") as batch:
        batch.drop_column("warehouse")
