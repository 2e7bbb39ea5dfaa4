"""Ledger core: outbox, published state, dead letters, audit log.

The orders slice comes as a later revision (order inbox unique on channel, external id and
event; order-to-Odoo mapping); this one leaves those tables out on purpose.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

DIRECTIONS = ("zero", "decrease", "increase")
OUTBOX_STATUSES = (
    "pending",
    "sent",
    "acknowledged",
    "stale",
    "rejected",
    "failed",
    "dead",
    "superseded",
)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create the four core tables."""
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("round_id", sa.String(128), nullable=False),
        sa.Column("batch_key", sa.String(64), nullable=True),
        sa.Column("listing_id", sa.String(255), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.Column("acknowledged_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint(
            "channel", "round_id", "listing_id", name="uq_outbox_channel_round_id_listing_id"
        ),
        sa.CheckConstraint(_in("direction", DIRECTIONS), name="ck_outbox_direction"),
        sa.CheckConstraint(_in("status", OUTBOX_STATUSES), name="ck_outbox_status"),
        sa.CheckConstraint("quantity >= 0", name="ck_outbox_quantity"),
    )
    op.create_index("ix_outbox_channel_status", "outbox", ["channel", "status"])
    op.create_index("ix_outbox_batch_key", "outbox", ["batch_key"])
    op.create_index("ix_outbox_round_id", "outbox", ["round_id"])

    op.create_table(
        "published_state",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("listing_id", sa.String(255), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", Timestamp, nullable=False),
        sa.Column("request_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("channel", "listing_id", name="pk_published_state"),
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("replayed_at", Timestamp, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.CheckConstraint(_in("kind", ("publish", "order")), name="ck_dead_letters_kind"),
        sa.CheckConstraint(
            _in("status", ("open", "replayed", "discarded")), name="ck_dead_letters_status"
        ),
    )
    op.create_index("ix_dead_letters_status_channel", "dead_letters", ["status", "channel"])

    op.create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(255), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity"])
    op.create_index("ix_audit_log_correlation_id", "audit_log", ["correlation_id"])


def downgrade() -> None:
    """Drop the four core tables."""
    for table in ("audit_log", "dead_letters", "published_state", "outbox"):
        op.drop_table(table)
