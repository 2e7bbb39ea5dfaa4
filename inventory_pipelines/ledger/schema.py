"""The ledger's tables as SQLAlchemy Core metadata (DESIGN.md section 4).

The migrations in `migrations/versions/` create these tables; this module is what the code
queries and what a migration test compares the migrated database against. Both must change
together: a new table or column is a new migration plus an edit here.

Revision 0001 holds the publishing side (outbox, published state, dead letters, audit);
revision 0002 the order side (inbox unique on channel, external id and event; the
order-to-Odoo mapping; the pending units the allocation subtracts; each channel's polling
cursor); revision 0003 the fence epochs (since when ring-fenced channels' sales are counted
against their own fences), the channel jobs (submissions a channel processes later, such as
Amazon feeds, tracked until done) and the indexes of the per-SKU hold; revision 0004 the dirty
SKUs (changed in Odoo, waiting for the next batch refresh, each with its claim); revision
0005 the manual overrides and emergency stops (requested, approved by a second person,
revoked or expired); revision 0006 each channel's circuit breaker and publish lease (shared
by every run and process, so `status` shows the circuit and two publishers never send one
channel's rounds at once); revision 0007 each supplier feed's last good fetch (vendors' and
3PLs'); revision 0008 the units of a pending row ordered on the drop-ship route
(`pending_units.dropship_quantity`).

No column may hold a credential: payloads, errors and audit before/after carry business
values only (quantities, ids, messages). `audit.record` and `dlq.add` refuse keys that look
like secrets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

DIRECTIONS = ("zero", "decrease", "increase")
"""Publish order within a round: zero-outs first, then decreases, then increases."""

OUTBOX_STATUSES = (
    "pending",  # written, not sent yet (or sent and put back for a retry)
    "sent",  # handed to the channel; no answer recorded yet
    "acknowledged",  # the channel shows the quantity
    "stale",  # compare-and-set failed: the channel showed something else
    "rejected",  # permanent error for this item (dead-lettered)
    "failed",  # transient error for this item: planned again in a new batch
    "dead",  # out of attempts (dead-lettered)
    "superseded",  # a later round replaced it before it was sent
)
DEAD_LETTER_KINDS = ("publish", "order")
ORDER_EVENT_KINDS = ("created", "cancelled", "returned")
"""What an inbox row asks for: ingest an order, cancel it, or take a return back."""
ORDER_ROUTES = ("poll", "webhook")
INBOX_STATUSES = (
    "new",  # stored, not processed yet
    "claimed",  # a worker holds it (until its lease runs out)
    "done",  # processed: its effect is in Odoo
    "parked",  # cannot be processed as is (dead-lettered with its reason)
    "ignored",  # nothing to do under the policy (a cancellation of an order never ingested...)
    "review",  # the policy routes it to a person (a cancellation after fulfilment started)
)
DEAD_LETTER_STATUSES = ("open", "replayed", "discarded")
OVERRIDE_KINDS = ("quantity", "stop")
"""A manual override sets one SKU's quantity on one channel; a stop zeroes a SKU pattern."""
OVERRIDE_STATUSES = (
    "requested",  # waiting for a second person's approval; applies nowhere yet
    "approved",  # applies until it expires (a break-glass stop is approved by its requester)
    "revoked",  # ended by a person before it expired
    "expired",  # its time ran out (approved or not)
)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is timezone-aware UTC on the way in and on the way out.

    SQLite has no timestamp type and returns naive values; PostgreSQL stores `timestamptz`
    and returns values in the session's zone. Both come back as aware UTC here, and a naive
    value is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Refuse naive timestamps; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive timestamp {value!r}: the ledger stores aware UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Return aware UTC."""
        return None if value is None else aware_utc(value)


def aware_utc(stored: str | dt.datetime) -> dt.datetime:
    """A `UtcDateTime` value as the driver returns it, made aware UTC: SQLite's text (written
    in UTC, without an offset) or PostgreSQL's `timestamptz` (in the session's zone)."""
    if isinstance(stored, str):
        return dt.datetime.fromisoformat(stored).replace(tzinfo=dt.UTC)
    if stored.tzinfo is None:
        return stored.replace(tzinfo=dt.UTC)
    return stored.astimezone(dt.UTC)


class JsonText(TypeDecorator[Any]):
    """A JSON value stored as text (portable across SQLite and PostgreSQL, stable key order)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Serialize with sorted keys."""
        if value is None:
            return None
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Parse back."""
        return None if value is None else orjson.loads(value)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("round_id", String(128), nullable=False),
    Column("batch_key", String(64), nullable=True),
    Column("listing_id", String(255), nullable=False),
    Column("sku", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("expected", Integer, nullable=True),
    Column("direction", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Bumped by a dead-letter replay so the replayed batch never reuses an old idempotency key.
    Column("generation", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("correlation_id", String(128), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    UniqueConstraint("channel", "round_id", "listing_id"),
    CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
    CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
    CheckConstraint("quantity >= 0", name="quantity"),
    Index("ix_outbox_channel_status", "channel", "status"),
    Index("ix_outbox_batch_key", "batch_key"),
    Index("ix_outbox_round_id", "round_id"),
    Index("ix_outbox_status_direction", "status", "direction"),
    Index("ix_outbox_channel_listing_id", "channel", "listing_id"),
)

published_state = Table(
    "published_state",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("listing_id", String(255), primary_key=True),
    Column("sku", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=False),
    Column("request_id", String(255), nullable=True),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JsonText, nullable=False),
    Column("error", Text, nullable=False),
    Column("correlation_id", String(128), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("replayed_at", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False, server_default="open"),
    CheckConstraint(_in("kind", DEAD_LETTER_KINDS), name="kind"),
    CheckConstraint(_in("status", DEAD_LETTER_STATUSES), name="status"),
    Index("ix_dead_letters_status_channel", "status", "channel"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("correlation_id", String(128), nullable=True),
    Column("action", String(64), nullable=False),
    Column("entity", String(255), nullable=False),
    Column("before", JsonText, nullable=True),
    Column("after", JsonText, nullable=True),
    Index("ix_audit_log_entity", "entity"),
    Index("ix_audit_log_correlation_id", "correlation_id"),
)

order_inbox = Table(
    "order_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("event", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("route", String(16), nullable=False),
    Column("delivery_id", String(255), nullable=True),
    Column("payload", JsonText, nullable=False),
    Column("status", String(16), nullable=False, server_default="new"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("duplicates", Integer, nullable=False, server_default="0"),
    Column("received_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("processed_at", UtcDateTime, nullable=True),
    Column("result", JsonText, nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("channel", "external_id", "event"),
    CheckConstraint(_in("kind", ORDER_EVENT_KINDS), name="kind"),
    CheckConstraint(_in("route", ORDER_ROUTES), name="route"),
    CheckConstraint(_in("status", INBOX_STATUSES), name="status"),
    Index("ix_order_inbox_status_channel", "status", "channel"),
)

order_map = Table(
    "order_map",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("client_order_ref", String(255), nullable=False, unique=True),
    Column("odoo_order_id", Integer, nullable=True),
    Column("odoo_state", String(32), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

pending_units = Table(
    "pending_units",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("external_id", String(128), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("accepted_at", UtcDateTime, nullable=False),
    Column("reserved_at", UtcDateTime, nullable=True),
    Column("released_at", UtcDateTime, nullable=True),
    # of `quantity`, the units ordered on the drop-ship route: pending against the vendor's
    # stock, not the warehouse's (revision 0008)
    Column("dropship_quantity", Integer, nullable=False, server_default="0"),
    # the code of the warehouse Odoo reserved the units in, once it holds the order (null while
    # pending, or unknown: then they count as taken from every pool; revision 0010)
    Column("warehouse", String(64), nullable=True),
    CheckConstraint("quantity >= 0", name="quantity"),
    CheckConstraint(
        "dropship_quantity >= 0 AND dropship_quantity <= quantity", name="dropship_quantity"
    ),
    Index("ix_pending_units_open", "released_at", "reserved_at"),
    Index("ix_pending_units_accepted_at", "accepted_at"),
)

channel_jobs = Table(
    "channel_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("batch_key", String(64), nullable=False),
    Column("job_id", String(128), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("settled_at", UtcDateTime, nullable=True),
    Column("outcome", Text, nullable=True),
    UniqueConstraint("channel", "job_id"),
    CheckConstraint("status IN ('open', 'settled', 'cancelled')", name="status"),
    Index("ix_channel_jobs_channel_status", "channel", "status"),
)

channel_drops = Table(
    "channel_drops",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("sku", String(255), nullable=False),
    Column("listing_id", String(255), nullable=False),
    Column("units", Integer, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("correlation_id", String(128), nullable=True),
    CheckConstraint("units > 0", name="units"),
    Index("ix_channel_drops_observed_at", "observed_at"),
)

fence_epochs = Table(
    "fence_epochs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("signature", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
)

dirty_skus = Table(
    "dirty_skus",
    metadata,
    Column("sku", String(255), primary_key=True),
    Column("reason", String(128), nullable=False),  # why it was first marked
    Column("first_marked_at", UtcDateTime, nullable=False),
    Column("last_marked_at", UtcDateTime, nullable=False),
    # each mark counts one: a claim remembers the count, so a mark after it is never cleared
    Column("marks", Integer, nullable=False, server_default="1"),
    Column("claim", String(255), nullable=True),  # the batch run (its run key) holding it
    Column("claimed_at", UtcDateTime, nullable=True),
    Column("claimed_marks", Integer, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_dirty_skus_claim", "claim"),
    Index("ix_dirty_skus_first_marked_at", "first_marked_at"),
)

poll_cursors = Table(
    "poll_cursors",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("cursor", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

overrides = Table(
    "overrides",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(64), nullable=False),  # a channel, or "*" (a stop on all)
    Column("sku", String(255), nullable=False),  # a SKU; for a stop a shell pattern
    Column("quantity", Integer, nullable=False),  # in the channel's unit; 0 for a stop
    Column("reason", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="requested"),
    Column("break_glass", Boolean, nullable=False, server_default=false()),
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("approved_by", String(128), nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("ended_by", String(128), nullable=True),  # who revoked it, or what saw it expire
    Column("ended_at", UtcDateTime, nullable=True),
    Column("end_reason", Text, nullable=True),
    CheckConstraint(_in("kind", OVERRIDE_KINDS), name="kind"),
    CheckConstraint(_in("status", OVERRIDE_STATUSES), name="status"),
    CheckConstraint("quantity >= 0", name="quantity"),
    CheckConstraint("kind = 'stop' OR channel <> '*'", name="channel"),
    Index("ix_overrides_status_expires_at", "status", "expires_at"),
)

CIRCUIT_STATES = (
    "closed",  # calls go through
    "open",  # the channel failed too often: nothing is sent until `retry_at`
    "half_open",  # one publisher probes the channel; the others wait for its answer
)

channel_circuits = Table(
    "channel_circuits",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("state", String(16), nullable=False, server_default="closed"),
    Column("failures", Integer, nullable=False, server_default="0"),  # consecutive
    Column("opened", Integer, nullable=False, server_default="0"),  # times in a row it opened
    Column("opened_at", UtcDateTime, nullable=True),
    Column("retry_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_in("state", CIRCUIT_STATES), name="state"),
)

channel_leases = Table(
    "channel_leases",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# Revision 0007: each supplier feed's last good fetch (vendors' and 3PLs', `supply/`). The
# validators are sent back on the next fetch (If-None-Match, If-Modified-Since); the parse of
# the last good body lives on the data plane under `cache_key`, so any machine can reuse it on
# a 304. No column holds a credential: `source` is the URL or path without query or user.
supply_feeds = Table(
    "supply_feeds",
    metadata,
    Column("feed", String(128), primary_key=True),  # "vendor:<code>" or "threepl:<warehouse>"
    Column("source", Text, nullable=False),
    # the last good body: its validators, digest, where its parse is, what it said
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),  # the header as received (an HTTP date)
    Column("object_name", Text, nullable=True),  # folder feeds: the file that was read
    Column("content_digest", String(64), nullable=True),  # sha256 of the body
    Column("cache_key", String(255), nullable=True),  # the data plane partition of its parse
    Column("feed_as_of", UtcDateTime, nullable=True),  # Last-Modified, or the file's mtime
    Column("rows", Integer, nullable=True),
    Column("fetched_at", UtcDateTime, nullable=True),  # when that body was first fetched
    # when the source last served that body again or answered 304 for it
    Column("confirmed_at", UtcDateTime, nullable=True),
    # the last confirmation of the body it replaced: it was written after (null: unknown)
    Column("changed_after", UtcDateTime, nullable=True),
    # the last attempt, whatever its outcome
    Column("checked_at", UtcDateTime, nullable=False),
    Column("last_status", Integer, nullable=False),  # 200, 304, an HTTP error, 0 unreachable
    Column("last_error", Text, nullable=True),
)
