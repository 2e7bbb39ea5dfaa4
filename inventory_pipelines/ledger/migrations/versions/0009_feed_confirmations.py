"""Supplier feeds: when the body in use was last confirmed, and when it is known to have changed.

A feed without Last-Modified says nothing about when it was written. Two times stand in:

- `confirmed_at`: the last time the source served this body again or answered 304 for it (the
  feed is current as of then: its freshness);
- `changed_after`: the last confirmation of the body it replaced (this body was written after
  it: drop-ship units reserved in Odoo before it are in the vendor's figures no sooner). Null
  for a first body without Last-Modified: when it was written is unknown.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision (a migration never imports the live schema).
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add `supply_feeds.confirmed_at` (the good fetch's time for rows that exist) and
    `supply_feeds.changed_after`; `feed_as_of` keeps only a stated time."""
    with op.batch_alter_table("supply_feeds") as batch:
        batch.add_column(sa.Column("confirmed_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("changed_after", Timestamp, nullable=True))
    op.execute("UPDATE supply_feeds SET confirmed_at = fetched_at")
    # `feed_as_of` is now only what the source states: a body without Last-Modified was
    # given its fetch time, which `confirmed_at` now holds
    op.execute("UPDATE supply_feeds SET feed_as_of = NULL WHERE last_modified IS NULL")
    # a Last-Modified ahead of our clock was stored as it came: no later than its fetch now
    op.execute("UPDATE supply_feeds SET feed_as_of = fetched_at WHERE feed_as_of > fetched_at")


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("supply_feeds") as batch:
        batch.drop_column("changed_after")
        batch.drop_column("confirmed_at")
