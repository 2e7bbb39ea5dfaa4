"""Supplier feeds in the ledger: each feed's last good fetch and its last attempt.

One row per feed (``vendor:<code>``, ``threepl:<warehouse>``). The last good fetch is what a
conditional request sends back (its ETag as ``If-None-Match``, its Last-Modified as
``If-Modified-Since``) and where the parse of that body lives on the data plane
(``cache_key``), so a 304 on any machine reuses it: no local file is the source of truth.

When the feed was true (`GoodFetch.as_of`, `written_by`, `written_after`): its Last-Modified
(or file time) where the source states one; else the row knows when the body was first
fetched (`fetched_at`), when the source last served it again or answered 304 for it
(`confirmed_at`, `record_confirmed`), and the last confirmation of the body it replaced
(`changed_after`: this body was written after it).

Two runs of one feed may finish in either order: a good fetch replaces the stored one only if
it was fetched no earlier (`record_good`), so a slow run never puts back an older feed; a
confirmation only ever confirms the body that is still stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import supply_feeds


@dataclass(frozen=True)
class GoodFetch:
    """The last good body of a feed: its validators, digest, parse key and what it said."""

    feed: str
    source: str
    etag: str | None
    last_modified: str | None
    object_name: str | None
    content_digest: str
    cache_key: str
    feed_as_of: dt.datetime | None  # what the source states (Last-Modified, file time)
    rows: int
    fetched_at: dt.datetime  # when this body was first fetched
    confirmed_at: dt.datetime | None = None  # last served again or 304 (None: at fetched_at)
    changed_after: dt.datetime | None = None  # the replaced body's last confirmation

    @property
    def confirmed(self) -> dt.datetime:
        """When the source last vouched for this body."""
        return self.confirmed_at or self.fetched_at

    @property
    def as_of(self) -> dt.datetime:
        """When the feed was current: its stated time, else its last confirmation."""
        return self.feed_as_of or self.confirmed

    @property
    def written_by(self) -> dt.datetime:
        """No row of the body can be true later than this: its stated time, else its first
        fetch."""
        return self.feed_as_of or self.fetched_at

    @property
    def written_after(self) -> dt.datetime | None:
        """The body was written after this: its stated time, else the replaced body's last
        confirmation (None: unknown)."""
        return self.feed_as_of or self.changed_after


@dataclass(frozen=True)
class FeedRecord:
    """A feed's row: its last good fetch (None before the first) and its last attempt."""

    feed: str
    source: str
    good: GoodFetch | None
    checked_at: dt.datetime
    last_status: int
    last_error: str | None


def _insert(conn: Connection) -> Callable[..., Any]:
    """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
    return postgresql.insert if is_postgresql(conn) else sqlite.insert


def get(conn: Connection, feed: str) -> FeedRecord | None:
    """The feed's row, or None if it was never fetched."""
    query = sa.select(supply_feeds).where(supply_feeds.c.feed == feed)
    with read_transaction(conn):
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    good = None
    if row.cache_key is not None and row.fetched_at is not None:
        good = GoodFetch(
            feed=row.feed,
            source=row.source,
            etag=row.etag,
            last_modified=row.last_modified,
            object_name=row.object_name,
            content_digest=row.content_digest,
            cache_key=row.cache_key,
            feed_as_of=row.feed_as_of,
            rows=row.rows,
            fetched_at=row.fetched_at,
            confirmed_at=row.confirmed_at,
            changed_after=row.changed_after,
        )
    return FeedRecord(row.feed, row.source, good, row.checked_at, row.last_status, row.last_error)


def record_good(conn: Connection, fetch: GoodFetch, status: int = 200) -> bool:
    """Store a good fetch as the feed's last (and as its last attempt); False when the ledger
    already holds one fetched later, which is kept."""
    good = {
        "source": fetch.source,
        "etag": fetch.etag,
        "last_modified": fetch.last_modified,
        "object_name": fetch.object_name,
        "content_digest": fetch.content_digest,
        "cache_key": fetch.cache_key,
        "feed_as_of": fetch.feed_as_of,
        "rows": fetch.rows,
        "fetched_at": fetch.fetched_at,
        "confirmed_at": fetch.confirmed,
        "changed_after": fetch.changed_after,
    }
    attempt = {"checked_at": fetch.fetched_at, "last_status": status, "last_error": None}
    with write_transaction(conn):
        statement = _insert(conn)(supply_feeds).values(feed=fetch.feed, **good, **attempt)
        statement = statement.on_conflict_do_update(
            index_elements=[supply_feeds.c.feed],
            set_={**good, **attempt},
            where=sa.or_(
                supply_feeds.c.fetched_at.is_(None),
                supply_feeds.c.fetched_at <= statement.excluded.fetched_at,
            ),
        )
        # a row comes back only when it was written (rowcount of an upsert differs by driver)
        return conn.execute(statement.returning(supply_feeds.c.feed)).first() is not None


def record_confirmed(
    conn: Connection,
    feed: str,
    digest: str,
    status: int,
    confirmed_at: dt.datetime,
    *,
    checked_at: dt.datetime | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    feed_as_of: dt.datetime | None = None,
    object_name: str | None = None,
) -> bool:
    """The source vouched again at `confirmed_at` for the stored body of digest `digest` (a
    304, or the same body served again): its confirmation moves there, its validators, stated
    time and file name to what this answer said (where it said them), unless a run that
    confirmed it later already did (an older run finishing last moves nothing back). False when
    the stored body is another one by now (a newer run replaced it), which is kept as it is."""
    changes: dict[str, Any] = {
        "confirmed_at": confirmed_at,
        "checked_at": checked_at or confirmed_at,
        "last_status": status,
        "last_error": None,
    }
    if etag is not None:
        changes["etag"] = etag
    if last_modified is not None:
        changes["last_modified"] = last_modified
        changes["feed_as_of"] = feed_as_of
    if object_name is not None:
        changes["object_name"] = object_name
    this_body = sa.and_(supply_feeds.c.feed == feed, supply_feeds.c.content_digest == digest)
    with write_transaction(conn):
        result = conn.execute(
            supply_feeds.update()
            .where(
                this_body,
                sa.or_(
                    supply_feeds.c.confirmed_at.is_(None),
                    supply_feeds.c.confirmed_at <= confirmed_at,
                ),
            )
            .values(**changes)
        )
        if result.rowcount == 1:
            return True
        # confirmed later already, or replaced: which one
        return conn.execute(sa.select(supply_feeds.c.feed).where(this_body)).first() is not None


def record_attempt(
    conn: Connection,
    feed: str,
    source: str,
    status: int,
    checked_at: dt.datetime,
    error: str | None = None,
) -> None:
    """Store the outcome of an attempt that brought no new body (a 304, an error), keeping
    the last good fetch as it is."""
    attempt = {"checked_at": checked_at, "last_status": status, "last_error": error}
    with write_transaction(conn):
        statement = _insert(conn)(supply_feeds).values(feed=feed, source=source, **attempt)
        statement = statement.on_conflict_do_update(
            index_elements=[supply_feeds.c.feed], set_={"source": source, **attempt}
        )
        conn.execute(statement)


def all_feeds(conn: Connection) -> list[FeedRecord]:
    """Every feed's row, by name (for status and the tests)."""
    with read_transaction(conn):
        names = conn.execute(sa.select(supply_feeds.c.feed).order_by(supply_feeds.c.feed))
        feeds = [row.feed for row in names]
    return [record for name in feeds if (record := get(conn, name)) is not None]
