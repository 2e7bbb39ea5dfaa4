"""Manual overrides and emergency stops: requested, approved by a second person, revoked or
expired.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the overrides, indexed by status and expiry."""
    op.create_table(
        "overrides",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="requested"),
        sa.Column("break_glass", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_at", Timestamp, nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", Timestamp, nullable=True),
        sa.Column("ended_by", sa.String(128), nullable=True),
        sa.Column("ended_at", Timestamp, nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_overrides"),
        sa.CheckConstraint("kind IN ('quantity', 'stop')", name="ck_overrides_kind"),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'revoked', 'expired')", name="ck_overrides_status"
        ),
        sa.CheckConstraint("quantity >= 0", name="ck_overrides_quantity"),
        sa.CheckConstraint("kind = 'stop' OR channel <> '*'", name="ck_overrides_channel"),
    )
    op.create_index("ix_overrides_status_expires_at", "overrides", ["status", "expires_at"])


def downgrade() -> None:
    """Drop what `upgrade` created."""
    op.drop_index("ix_overrides_status_expires_at", table_name="overrides")
    op.drop_table("overrides")
