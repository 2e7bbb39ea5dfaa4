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

When the feed was true: the time the source states (Last-Modified, a file's time, never later
than the read) where it states one. Else a body is current as of its last confirmation (the
source served it again, or answered 304), so a source that stops answering makes it stale;
and it was written after the last confirmation of the body it replaced, which is when the
drop-ship units reserved before it may show in it (`FeedRead.written_after`).

Each feed keeps its current parse and the one before (a run that read the ledger just before
a newer fetch may still ask for it); older parses are deleted. Two runs of one feed at once:
the one that fetched later wins in the ledger, and the other returns that feed and prunes
nothing. Two that both record can still prune each other's new parse; the ledger then names
a parse that is gone, and the next run fetches that feed whole again, keeping its times when
the body is the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

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


def _from_good(
    feed_name: str,
    good: ledger_feeds.GoodFetch,
    parsed: pl.DataFrame,
    *,
    status: int,
    encoding: str | None,
    problem: FeedProblem | None = None,
    from_cache: bool = True,
) -> FeedRead:
    return FeedRead(
        feed=feed_name,
        source=good.source,
        parsed=parsed,
        status=status,
        feed_as_of=good.as_of,
        fetched_at=good.fetched_at,
        written_by=good.written_by,
        written_after=good.written_after,
        from_cache=from_cache,
        problem=problem,
        object_name=good.object_name,
        encoding=encoding,
    )


def _stated(fetched: Fetched, now: datetime) -> datetime | None:
    """The time the source states for its feed, never later than now (a clock ahead of ours
    does not make a feed fresher than the moment it was read)."""
    return min(fetched.feed_as_of, now) if fetched.feed_as_of is not None else None


def _vouched(fetched: Fetched, now: datetime) -> datetime:
    """When the source vouched for the body it answered with: now, less the age a cache
    between us says its copy has (a CDN serving a copy is not the vendor confirming it)."""
    return now - timedelta(seconds=fetched.age_s) if fetched.age_s else now


def _held(
    engine: Engine, store: TableStore, feed_name: str
) -> tuple[ledger_feeds.GoodFetch | None, pl.DataFrame | None]:
    """The good fetch the ledger holds now (None: none yet) and its parse (None: none, or gone
    from the data plane: the body is then fetched whole, and its times kept if it is the same)."""
    with engine.connect() as conn:
        record = ledger_feeds.get(conn, feed_name)
    if record is None or record.good is None:
        return None, None
    return record.good, _read_parse(store, record.good.cache_key)


def _newer_held(
    engine: Engine, store: TableStore, feed_name: str, status: int, encoding: str | None
) -> FeedRead | None:
    """A run that lost the race to a newer one: the feed the ledger holds now, as read."""
    good, parsed = _held(engine, store, feed_name)
    if good is None or parsed is None:
        return None
    return _from_good(feed_name, good, parsed, status=status, encoding=encoding)


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
    good, cached = _held(engine, store, feed_name)
    # validators only for a body whose parse is at hand: a 304 must have something to reuse
    validators = (
        Validators(good.etag, good.last_modified, good.object_name)
        if good is not None and cached is not None
        else None
    )
    fetched = fetch(feed, validators, transport=transport, environ=environ, sleep=sleep)
    encoding = getattr(feed, "encoding", None)

    if fetched.status == 304 and good is not None and cached is not None:
        return _confirmed(feed_name, good, cached, fetched, 304, now, engine, store, encoding)

    problem = fetched.problem
    if fetched.status == 304:
        problem = FeedProblem(
            "http_error", f"{source} answered 304 to a request without validators"
        )
    elif fetched.has_body:
        digest = _digest(fetched)
        same = good is not None and digest == good.content_digest
        if same and cached is not None:
            # the same body served again: it is confirmed, not new
            return _confirmed(feed_name, good, cached, fetched, 200, now, engine, store, encoding)
        try:
            parsed = _parse(feed, fetched)
        except FeedUnusable as exc:
            problem = FeedProblem(exc.reason, exc.detail, exc.excerpt)
        else:
            if same:
                # its parse was lost (a prune of a run at the same time): written again, and the
                # body keeps when it was first fetched and what it replaced
                store.write(PARSES_KEY, parsed, good.cache_key)
                return _confirmed(
                    feed_name, good, parsed, fetched, 200, now, engine, store, encoding
                )
            return _replaced(
                feed_name, source, good, fetched, parsed, digest, now, engine, store, encoding
            )
    problem = problem or FeedProblem("unreachable", f"{source} brought nothing")
    with engine.connect() as conn:
        ledger_feeds.record_attempt(
            conn, feed_name, source, fetched.status, now, problem.describe()
        )
    if good is not None and cached is not None:
        return _from_good(
            feed_name, good, cached, status=fetched.status, encoding=encoding, problem=problem
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


def _confirmed(
    feed_name: str,
    good: ledger_feeds.GoodFetch,
    cached: pl.DataFrame,
    fetched: Fetched,
    status: int,
    now: datetime,
    engine: Engine,
    store: TableStore,
    encoding: str | None,
) -> FeedRead:
    """The source vouched again for the body in use (a 304, or the same body): its
    confirmation (and stated time, where the answer states one) moves on."""
    stated = _stated(fetched, now)
    vouched = _vouched(fetched, now)
    with engine.connect() as conn:
        still = ledger_feeds.record_confirmed(
            conn,
            feed_name,
            good.content_digest,
            status,
            vouched,
            checked_at=now,
            etag=fetched.etag,
            last_modified=fetched.last_modified if stated is not None else None,
            feed_as_of=stated,
            object_name=fetched.object_name,
        )
    if not still:  # a newer run replaced the body meanwhile: that one is the feed now
        newer = _newer_held(engine, store, feed_name, status, encoding)
        if newer is not None:
            return newer
    confirmed = dataclasses.replace(
        good,
        confirmed_at=max(good.confirmed, vouched),
        feed_as_of=stated if stated is not None else good.feed_as_of,
        object_name=fetched.object_name or good.object_name,
    )
    return _from_good(feed_name, confirmed, cached, status=status, encoding=encoding)


def _replaced(
    feed_name: str,
    source: str,
    good: ledger_feeds.GoodFetch | None,
    fetched: Fetched,
    parsed: pl.DataFrame,
    digest: str,
    now: datetime,
    engine: Engine,
    store: TableStore,
    encoding: str | None,
) -> FeedRead:
    """A new body: its parse written, the ledger pointed at it, older parses pruned. When a
    newer run recorded its own body first, that one stays the feed and is returned."""
    key = f"{_slug(feed_name)}-{digest[:16]}"
    if _read_parse(store, key) is None:
        store.write(PARSES_KEY, parsed, key)
    stated = _stated(fetched, now)
    fetch_record = ledger_feeds.GoodFetch(
        feed=feed_name,
        source=source,
        etag=fetched.etag,
        last_modified=fetched.last_modified if stated is not None else None,
        object_name=fetched.object_name,
        content_digest=digest,
        cache_key=key,
        feed_as_of=stated,
        rows=parsed.height,
        fetched_at=now,
        confirmed_at=_vouched(fetched, now),
        # written after the body it replaces was last vouched for; a first body without a
        # stated time: unknown
        changed_after=good.confirmed if good is not None else None,
    )
    with engine.connect() as conn:
        recorded = ledger_feeds.record_good(conn, fetch_record)
    if not recorded:
        # a run that fetched later recorded first: its body is the feed; nothing is pruned
        newer = _newer_held(engine, store, feed_name, 200, encoding)
        if newer is not None:
            return newer
    else:
        keep = {key} | ({good.cache_key} if good is not None else set())
        _prune(store, feed_name, keep)
    return _from_good(
        feed_name, fetch_record, parsed, status=200, encoding=encoding, from_cache=False
    )
