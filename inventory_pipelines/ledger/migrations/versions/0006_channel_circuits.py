"""Each channel's circuit breaker and its publish lease, shared by every run and process.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the circuit breakers and the publish leases, one row per channel."""
    op.create_table(
        "channel_circuits",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="closed"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("opened", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("opened_at", Timestamp, nullable=True),
        sa.Column("retry_at", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_circuits"),
        sa.CheckConstraint(
            "state IN ('closed', 'open', 'half_open')", name="ck_channel_circuits_state"
        ),
    )
    op.create_table(
        "channel_leases",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_channel_leases"),
    )


def downgrade() -> None:
    """Drop what `upgrade` created."""
    op.drop_table("channel_leases")
    op.drop_table("channel_circuits")
