"""Pending units on the drop-ship route: how many of a pending row's units the vendor ships.

An order line that the channel's own stock cannot cover goes into Odoo on the drop-ship route
(Odoo raises the purchase order to the vendor). Its units are pending against the vendor's
stock, not the warehouse's: `dropship_quantity` says how many of `quantity` they are (0 for
rows that existed before: all their units were the warehouse's).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_pending_units_dropship_quantity"


def upgrade() -> None:
    """Add `pending_units.dropship_quantity` (0 to `quantity`)."""
    with op.batch_alter_table("pending_units") as batch:
        batch.add_column(
            sa.Column("dropship_quantity", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_check_constraint(
            CHECK, "dropship_quantity >= 0 AND dropship_quantity <= quantity"
        )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("pending_units") as batch:
        batch.drop_constraint(CHECK, type_="check")
        batch.drop_column("dropship_quantity")
