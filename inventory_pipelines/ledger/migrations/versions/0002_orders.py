"""Orders: the order inbox, the order-to-Odoo mapping, the pending units, polling cursors.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

KINDS = ("created", "cancelled", "returned")
ROUTES = ("poll", "webhook")
STATUSES = ("new", "claimed", "done", "parked", "ignored", "review")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create the order tables."""
    op.create_table(
        "order_inbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("event", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("claimed_at", Timestamp, nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("processed_at", Timestamp, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_order_inbox"),
        sa.UniqueConstraint(
            "channel", "external_id", "event", name="uq_order_inbox_channel_external_id_event"
        ),
        sa.CheckConstraint(_in("kind", KINDS), name="ck_order_inbox_kind"),
        sa.CheckConstraint(_in("route", ROUTES), name="ck_order_inbox_route"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_order_inbox_status"),
    )
    op.create_index("ix_order_inbox_status_channel", "order_inbox", ["status", "channel"])

    op.create_table(
        "order_map",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("client_order_ref", sa.String(255), nullable=False),
        sa.Column("odoo_order_id", sa.Integer(), nullable=True),
        sa.Column("odoo_state", sa.String(32), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("channel", "external_id", name="pk_order_map"),
        sa.UniqueConstraint("client_order_ref", name="uq_order_map_client_order_ref"),
    )

    op.create_table(
        "pending_units",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("accepted_at", Timestamp, nullable=False),
        sa.Column("reserved_at", Timestamp, nullable=True),
        sa.Column("released_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("channel", "external_id", "sku", name="pk_pending_units"),
        sa.CheckConstraint("quantity >= 0", name="ck_pending_units_quantity"),
    )
    op.create_index("ix_pending_units_open", "pending_units", ["released_at", "reserved_at"])

    op.create_table(
        "poll_cursors",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("channel", "name", name="pk_poll_cursors"),
    )


def downgrade() -> None:
    """Drop the order tables."""
    op.drop_table("poll_cursors")
    op.drop_index("ix_pending_units_open", table_name="pending_units")
    op.drop_table("pending_units")
    op.drop_table("order_map")
    op.drop_index("ix_order_inbox_status_channel", table_name="order_inbox")
    op.drop_table("order_inbox")
