"""Reading a supplier feed with its last good parse kept, on any machine.

The ledger (`ledger/feeds.py`) holds each feed's last good fetch: its validators (ETag,
Last-Modified; a folder feed's file name and ETag), the digest of its body and the key of its
parse, which lives on the data plane (table `supply/feed_parses`, one partition per parsed
body, in the same folder or bucket as every other table). So:

- a fetch is conditional on the last good one; a 304 (or an unchanged file) reuses its parse,
  read back from the data plane: no local file is the source of truth;
- a new body is parsed, its parse written (once per distinct body: the key holds its digest),
  then the ledger points at it;
- a fetch that fails (unreachable, an HTTP error, no file) or brings a body that cannot be
  read (truncated, malformed, missing columns) leaves the last good parse in use: its own age
  then decides whether it is still fresh, so a feed that stays broken goes stale and counts
  zero. With no last good parse, there is no feed (zero, and the reason).

Each feed keeps its current parse and the one before (a run that read the ledger just before
a newer fetch may still ask for it); older parses are deleted.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx
import obstore
import polars as pl
from sqlalchemy.engine import Engine

from inventory_pipelines.dataplane import ObjectTableStore, TableStore
from inventory_pipelines.ledger import feeds as ledger_feeds
from inventory_pipelines.rules.feeds import ChannelApiFeed, FolderFeed, HttpFeed, feed_source
from inventory_pipelines.supply.model import FeedProblem, FeedRead
from inventory_pipelines.supply.parse import FeedUnusable, parse_feed
from inventory_pipelines.supply.sources import Fetched, Validators, fetch

#: the data plane table of parsed feed bodies, one partition per body
PARSES_KEY = ("supply", "feed_parses")

AnyFeed = HttpFeed | FolderFeed | ChannelApiFeed


def vendor_feed(code: str) -> str:
    """The ledger's name of a vendor's feed."""
    return f"vendor:{code}"


def threepl_feed(warehouse: str) -> str:
    """The ledger's name of a 3PL warehouse's feed."""
    return f"threepl:{warehouse}"


def _slug(feed: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]+", "-", feed).strip("-")


def _digest(fetched: Fetched) -> str:
    hasher = hashlib.sha256()
    if fetched.body is not None:
        hasher.update(fetched.body)
    elif fetched.records is not None:
        for raw in fetched.records["raw"].fill_null(""):
            hasher.update(raw.encode() + b"\n")
    return hasher.hexdigest()


def _parse(feed: AnyFeed, fetched: Fetched) -> pl.DataFrame:
    if fetched.records is not None:
        return fetched.records
    if fetched.body is None or isinstance(feed, ChannelApiFeed):
        raise FeedUnusable("malformed_feed", "the answer carried neither a body nor records")
    return parse_feed(
        fetched.body,
        format=feed.format,
        columns=feed.columns,
        encoding=feed.encoding,
        delimiter=feed.delimiter,
        records_key=feed.records_key,
    )


def _read_parse(store: TableStore, key: str) -> pl.DataFrame | None:
    try:
        return store.read(PARSES_KEY, key)
    except FileNotFoundError:
        return None


def _delete_parse(store: TableStore, key: str) -> None:
    if isinstance(store, ObjectTableStore):
        obstore.delete(store.objects, store.relative(PARSES_KEY, key))
    else:
        store.path(PARSES_KEY, key).unlink(missing_ok=True)


def _prune(store: TableStore, feed: str, keep: set[str]) -> None:
    prefix = f"{_slug(feed)}-"
    for key in store.partitions(PARSES_KEY):
        if key.startswith(prefix) and key not in keep:
            _delete_parse(store, key)


def read_feed(
    feed_name: str,
    feed: AnyFeed,
    *,
    engine: Engine,
    store: TableStore,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FeedRead:
    """Fetch `feed` (named `feed_name` in the ledger) and return the parse in use (module)."""
    source = feed_source(feed)
    with engine.connect() as conn:
        record = ledger_feeds.get(conn, feed_name)
    good = record.good if record is not None else None
    cached = _read_parse(store, good.cache_key) if good is not None else None
    if cached is None:
        good = None  # its parse is gone: fetch the feed whole again
    validators = (
        Validators(good.etag, good.last_modified, good.object_name) if good is not None else None
    )
    fetched = fetch(feed, validators, transport=transport, environ=environ, sleep=sleep)
    encoding = getattr(feed, "encoding", None)

    if fetched.status == 304 and good is not None and cached is not None:
        with engine.connect() as conn:
            ledger_feeds.record_attempt(conn, feed_name, source, 304, now)
        return FeedRead(
            feed=feed_name,
            source=source,
            parsed=cached,
            status=304,
            # Last-Modified when the server says it; else the server confirmed it just now
            feed_as_of=fetched.feed_as_of or good.feed_as_of or now,
            fetched_at=good.fetched_at,
            from_cache=True,
            object_name=good.object_name,
            encoding=encoding,
        )

    problem = fetched.problem
    if fetched.status == 304:
        problem = FeedProblem(
            "http_error", f"{source} answered 304 to a request without validators"
        )
    elif fetched.has_body:
        try:
            parsed = _parse(feed, fetched)
        except FeedUnusable as exc:
            problem = FeedProblem(exc.reason, exc.detail, exc.excerpt)
        else:
            digest = _digest(fetched)
            key = f"{_slug(feed_name)}-{digest[:16]}"
            if _read_parse(store, key) is None:
                store.write(PARSES_KEY, parsed, key)
            feed_as_of = fetched.feed_as_of or now
            with engine.connect() as conn:
                ledger_feeds.record_good(
                    conn,
                    ledger_feeds.GoodFetch(
                        feed=feed_name,
                        source=source,
                        etag=fetched.etag,
                        last_modified=fetched.last_modified,
                        object_name=fetched.object_name,
                        content_digest=digest,
                        cache_key=key,
                        feed_as_of=feed_as_of,
                        rows=parsed.height,
                        fetched_at=now,
                    ),
                )
            keep = {key} | ({record.good.cache_key} if record and record.good else set())
            _prune(store, feed_name, keep)
            return FeedRead(
                feed=feed_name,
                source=source,
                parsed=parsed,
                status=200,
                feed_as_of=feed_as_of,
                fetched_at=now,
                object_name=fetched.object_name,
                encoding=encoding,
            )
    problem = problem or FeedProblem("unreachable", f"{source} brought nothing")
    with engine.connect() as conn:
        ledger_feeds.record_attempt(
            conn, feed_name, source, fetched.status, now, problem.describe()
        )
    if good is not None and cached is not None:
        return FeedRead(
            feed=feed_name,
            source=source,
            parsed=cached,
            status=fetched.status,
            feed_as_of=good.feed_as_of or good.fetched_at,
            fetched_at=good.fetched_at,
            from_cache=True,
            problem=problem,
            object_name=good.object_name,
            encoding=encoding,
        )
    return FeedRead(
        feed=feed_name,
        source=source,
        parsed=None,
        status=fetched.status,
        feed_as_of=None,
        fetched_at=None,
        problem=problem,
        encoding=encoding,
    )
