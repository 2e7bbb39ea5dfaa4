"""Fetching a supplier feed: over HTTP(S) conditionally, from a folder or an object storage
prefix, or from the generic signed channel API.

Each fetch answers with a `Fetched`: a status like HTTP's (200 a body, 304 unchanged since
the validators sent, 404 no file, another HTTP status, 0 not reached), the body or records,
the validators to send next time, and when the feed says it was written. Failures are
answers (`FeedProblem`), not exceptions: a feed that cannot be read this time is judged by
the caller (the last good parse, or zero), never a crashed run.

Credentials: only from the environment variable the rules name (``auth_header_env``,
``secret_env``), read at fetch time and sent as a header; never in a message, a log line or
the ledger. Messages name the feed by its `source` (no query string, no user). In the
``local`` environment every URL and object storage endpoint must be on this machine.
"""

from __future__ import annotations

import fnmatch
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import obstore
import orjson
import polars as pl
from obstore.store import LocalStore

from inventory_pipelines import settings
from inventory_pipelines.channels.base import ChannelError
from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.dataplane.objects import ObjectStoreConfigError, is_object_uri, s3_store
from inventory_pipelines.rules.feeds import (
    ChannelApiFeed,
    FolderFeed,
    HttpFeed,
    feed_source,
)
from inventory_pipelines.supply.model import FeedProblem
from inventory_pipelines.supply.parse import PARSED_SCHEMA

#: attempts of an HTTP fetch (connection errors, 429 and 5xx are retried)
ATTEMPTS = 3
_RETRIED = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Validators:
    """What the last good fetch was: sent back so an unchanged feed is not read again."""

    etag: str | None = None
    last_modified: str | None = None
    object_name: str | None = None


@dataclass(frozen=True)
class Fetched:
    """One fetch's answer (see the module)."""

    status: int
    body: bytes | None = None
    records: pl.DataFrame | None = None  # a feed that arrives as records (channel_api)
    etag: str | None = None
    last_modified: str | None = None
    feed_as_of: datetime | None = None  # when the feed says it was written
    object_name: str | None = None
    problem: FeedProblem | None = None
    age_s: float = 0.0  # how old a cache between us says its copy is (HTTP `Age`)

    @property
    def has_body(self) -> bool:
        """Whether a new body (or new records) came back."""
        return self.status == 200 and (self.body is not None or self.records is not None)


def http_date(value: str | None) -> datetime | None:
    """An HTTP date header (Last-Modified) as an aware UTC time; None if absent or invalid."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_http_date(moment: datetime) -> str:
    """An aware time as an HTTP date (`Last-Modified`, `If-Modified-Since`)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _refused_host(url: str) -> FeedProblem | None:
    host = urlparse(url).hostname or ""
    if settings.environment() == "local" and host not in settings.LOOPBACK_HOSTS:
        return FeedProblem(
            "not_configured",
            f"INVENTORY_ENV=local talks to no host off this machine ({host!r}): serve the feed "
            "on the loopback, or set INVENTORY_ENV=staging or prod",
        )
    return None


def _from_env(name: str, what: str, environ: Mapping[str, str]) -> str | FeedProblem:
    value = environ.get(name)
    if not value:
        return FeedProblem("not_configured", f"the environment variable {name} ({what}) is not set")
    return value


def fetch(
    feed: HttpFeed | FolderFeed | ChannelApiFeed,
    validators: Validators | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Fetch `feed`, conditionally on `validators` (None: unconditionally)."""
    env = os.environ if environ is None else environ
    if isinstance(feed, HttpFeed):
        return fetch_http(feed, validators, transport=transport, environ=env, sleep=sleep)
    if isinstance(feed, FolderFeed):
        return fetch_folder(feed, validators)
    return fetch_channel_api(feed, transport=transport, environ=env)


def fetch_http(
    feed: HttpFeed,
    validators: Validators | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str],
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """GET the feed's URL with If-None-Match / If-Modified-Since from `validators`."""
    source = feed_source(feed)
    refused = _refused_host(feed.url)
    if refused:
        return Fetched(0, problem=refused)
    headers = {
        "Accept": "application/json" if feed.format == "json" else "text/csv, */*",
        # a cache between us answers only after asking the source: its copy is not the
        # vendor vouching for its stock
        "Cache-Control": "no-cache",
    }
    if feed.auth_header_env:
        credential = _from_env(feed.auth_header_env, "auth_header_env", environ)
        if isinstance(credential, FeedProblem):
            return Fetched(0, problem=credential)
        headers["Authorization"] = credential
    if validators is not None:
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
    problem = FeedProblem("unreachable", f"{source} was not reached")
    with httpx.Client(timeout=feed.timeout_s, transport=transport, follow_redirects=True) as client:
        for attempt in range(ATTEMPTS):
            if attempt:
                sleep(random.uniform(0.5, 1.0) * 2 ** (attempt - 1))
            try:
                response = client.get(feed.url, headers=headers)
            except httpx.HTTPError as exc:
                # the exception's text may repeat the URL with its query: only its kind is told
                problem = FeedProblem(
                    "unreachable", f"{source} was not reached ({type(exc).__name__})"
                )
                continue
            if response.status_code in _RETRIED and attempt + 1 < ATTEMPTS:
                problem = FeedProblem(
                    "http_error", f"{source} answered HTTP {response.status_code}"
                )
                continue
            return _answer(response, source)
    return Fetched(0 if problem.reason == "unreachable" else 503, problem=problem)


def _age(value: str | None) -> float:
    """An HTTP `Age` header in seconds (0 when absent or not a number)."""
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _answer(response: httpx.Response, source: str) -> Fetched:
    etag = response.headers.get("ETag")
    modified = response.headers.get("Last-Modified")
    age = _age(response.headers.get("Age"))
    if response.status_code == 304:
        return Fetched(
            304, etag=etag, last_modified=modified, feed_as_of=http_date(modified), age_s=age
        )
    if response.status_code != 200:
        return Fetched(
            response.status_code,
            problem=FeedProblem(
                "not_found" if response.status_code == 404 else "http_error",
                f"{source} answered HTTP {response.status_code}",
            ),
        )
    return Fetched(
        200,
        body=response.content,
        etag=etag,
        last_modified=modified,
        feed_as_of=http_date(modified),
        age_s=age,
    )


def _folder_store(path: str) -> Any:
    if is_object_uri(path):
        return s3_store(path)
    return LocalStore(prefix=Path(path.removeprefix("file://")).expanduser())


def fetch_folder(feed: FolderFeed, validators: Validators | None = None) -> Fetched:
    """The newest file matching the pattern (dot files, being written, are skipped); 304 when
    it is the file last read and unchanged (same name and ETag)."""
    source = feed_source(feed)
    try:
        store = _folder_store(feed.path)
        listed = obstore.list_with_delimiter(store, None)["objects"]
    except ObjectStoreConfigError as exc:
        return Fetched(0, problem=FeedProblem("not_configured", str(exc)))
    except (FileNotFoundError, obstore.exceptions.BaseError) as exc:
        return Fetched(
            0,
            problem=FeedProblem(
                "unreachable", f"{feed.path} cannot be listed ({type(exc).__name__})"
            ),
        )
    matching = [
        meta
        for meta in listed
        if not meta["path"].startswith(".") and fnmatch.fnmatchcase(meta["path"], feed.pattern)
    ]
    if not matching:
        return Fetched(404, problem=FeedProblem("not_found", f"no file matches {source}"))
    newest = max(matching, key=lambda meta: (meta["last_modified"], meta["path"]))
    name, etag = newest["path"], newest.get("e_tag")
    as_of = newest["last_modified"].astimezone(UTC)
    modified = as_http_date(as_of)
    if (
        validators is not None
        and validators.object_name == name
        and etag is not None
        and validators.etag == etag
    ):
        return Fetched(304, etag=etag, last_modified=modified, feed_as_of=as_of, object_name=name)
    try:
        body = bytes(obstore.get(store, name).bytes())
    except (FileNotFoundError, obstore.exceptions.BaseError) as exc:
        return Fetched(
            0,
            problem=FeedProblem(
                "unreachable", f"{source}: {name} cannot be read ({type(exc).__name__})"
            ),
        )
    return Fetched(
        200, body=body, etag=etag, last_modified=modified, feed_as_of=as_of, object_name=name
    )


def fetch_channel_api(
    feed: ChannelApiFeed,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str],
) -> Fetched:
    """Every listing of the supplier's generic channel API, as records: ``sku`` is the code."""
    source = feed_source(feed)
    refused = _refused_host(feed.url)
    if refused:
        return Fetched(0, problem=refused)
    secret = _from_env(feed.secret_env, "secret_env", environ)
    if isinstance(secret, FeedProblem):
        return Fetched(0, problem=secret)
    rows: list[dict[str, Any]] = []
    try:
        with GenericChannelConnector(
            feed.url, secret, timeout_s=feed.timeout_s, transport=transport
        ) as connector:
            pages = list(connector.read_listings())
    except ChannelError as exc:
        return Fetched(0, problem=FeedProblem("unreachable", f"{source}: {exc}"))
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, or listings of another shape
        return Fetched(
            0,
            problem=FeedProblem(
                "malformed_feed", f"{source}: the listings could not be read ({type(exc).__name__})"
            ),
        )
    for page in pages:
        for listing in page:
            item = {
                "listing_id": listing.listing_id,
                "sku": listing.sku,
                "quantity": listing.quantity,
            }
            rows.append(
                {
                    "code": listing.sku,
                    "quantity": None if listing.quantity is None else str(listing.quantity),
                    "updated_at": None,
                    "raw": orjson.dumps(item).decode(),
                }
            )
    records = pl.DataFrame(
        rows, schema={k: PARSED_SCHEMA[k] for k in ("code", "quantity", "updated_at", "raw")}
    )
    records = records.with_row_index("line", offset=1).select(
        pl.col("line").cast(pl.Int64),
        "code",
        "quantity",
        "updated_at",
        "raw",
        pl.lit(None, pl.Utf8).alias("defect"),
    )
    return Fetched(200, records=records)
