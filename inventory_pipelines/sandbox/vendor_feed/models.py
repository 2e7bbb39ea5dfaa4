"""The vendor feed emulator's state: named feeds, their rows, the dirt they carry, and how a
feed is rendered as a file (no HTTP here).

A feed is a list of rows (a code, a quantity) with the time they were last changed. Rendering
gives the file a vendor would publish, CSV (``code,quantity,updated_at``) or JSON (an array of
``{"code", "quantity", "updated_at"}``), with the dirt switched on for that feed:

- ``missing_codes``: that many rows carry a code nobody maps (``UNKNOWN-<n>``), and one row
  carries no code at all;
- ``negative``: that many rows have a negative quantity;
- ``unparsable``: that many rows have a quantity that is no number (``12x``);
- ``duplicates``: that many codes appear a second time with another quantity;
- ``stale_hours``: every ``updated_at`` and the file's Last-Modified are that many hours old;
- ``encoding``: the file is written in that encoding (e.g. ``cp1252``) instead of UTF-8;
- ``truncated``: the file is cut off in its last row (CSV: no final newline; JSON: the
  document never closes).

The rows dirt touches are chosen by the feed's seed, the same ones on every render, so an
ETag only changes when the feed or its dirt does. Each change bumps the feed's version and
its ``modified_at``; the ETag is a digest of the rendered bytes.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import random
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

FORMATS = ("csv", "json")
#: what a feed's server may send to validate a copy (`Feed.validators`)
VALIDATORS = ("both", "etag", "last_modified", "none")
#: the rows a demo feed has unless told otherwise
DEFAULT_ROWS = 200
#: how codes of a demo feed look (``n`` counts from 1)
DEFAULT_CODE_PATTERN = "V-{n:06d}"


class FeedError(Exception):
    """A request the emulator refuses: unknown feed or format, bad control input."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Dirt:
    """What is wrong with a feed's file (module docstring); all off by default."""

    missing_codes: int = 0
    negative: int = 0
    unparsable: int = 0
    duplicates: int = 0
    stale_hours: float | None = None
    encoding: str | None = None
    truncated: bool = False

    def __post_init__(self) -> None:
        for name in ("missing_codes", "negative", "unparsable", "duplicates"):
            if getattr(self, name) < 0:
                raise FeedError(f"dirt {name} must not be negative", 400)
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise FeedError(f"unknown encoding {self.encoding!r}", 400) from None


@dataclass
class Feed:
    """One vendor's feed: its rows, when they last changed, its dirt, who may read it."""

    name: str
    rows: list[tuple[str, float]]
    modified_at: datetime
    seed: int = 0
    dirt: Dirt = field(default_factory=Dirt)
    token: str | None = None  # when set, readers must send `Authorization: Bearer <token>`
    version: int = 1
    #: which validators the server sends: both, etag (no Last-Modified: many CDNs and object
    #: stores behind a proxy), last_modified, or none (every request answered 200 in full)
    validators: str = "both"


@dataclass(frozen=True)
class Rendered:
    """A feed as a file: its bytes, validators and media type."""

    body: bytes
    etag: str
    last_modified: datetime
    content_type: str


def demo_rows(
    count: int, seed: int = 0, pattern: str = DEFAULT_CODE_PATTERN
) -> list[tuple[str, float]]:
    """`count` rows of codes made from `pattern` and quantities from 0 to 500."""
    rng = random.Random(seed)
    return [(pattern.format(n=n), float(rng.randint(0, 500))) for n in range(1, count + 1)]


class VendorFeedState:
    """Every feed the emulator serves; thread-safe (the server and a test share it)."""

    def __init__(self, clock: Any = None) -> None:
        self._feeds: dict[str, Feed] = {}
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The emulator's time (whole seconds: HTTP dates have no fractions)."""
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def names(self) -> list[str]:
        """The feeds served, by name."""
        with self._lock:
            return sorted(self._feeds)

    def get(self, name: str) -> Feed:
        """The feed called `name`."""
        with self._lock:
            if name not in self._feeds:
                raise FeedError(f"no feed {name!r}; feeds are {', '.join(sorted(self._feeds))}")
            return self._feeds[name]

    def add_feed(
        self,
        name: str,
        rows: Iterable[tuple[str, float]] | None = None,
        *,
        seed: int = 0,
        token: str | None = None,
        count: int = DEFAULT_ROWS,
        pattern: str = DEFAULT_CODE_PATTERN,
    ) -> Feed:
        """Serve a feed called `name` (its rows, or `count` demo rows from `pattern`)."""
        listed = list(rows) if rows is not None else demo_rows(count, seed, pattern)
        feed = Feed(name, [(str(c), float(q)) for c, q in listed], self.now(), seed, token=token)
        with self._lock:
            self._feeds[name] = feed
        return feed

    def _change(self, name: str, **changes: Any) -> Feed:
        with self._lock:
            if name not in self._feeds:
                raise FeedError(f"no feed {name!r}")
            feed = self._feeds[name]
            for key, value in changes.items():
                setattr(feed, key, value)
            feed.version += 1
            feed.modified_at = self.now()
            return feed

    def set_rows(self, name: str, rows: Iterable[tuple[str, float]]) -> Feed:
        """Replace the feed's rows (a new version, modified now)."""
        return self._change(name, rows=[(str(c), float(q)) for c, q in rows])

    def set_quantity(self, name: str, code: str, quantity: float) -> Feed:
        """Change one row's quantity (added if the code is new)."""
        rows = dict(self.get(name).rows)
        rows[code] = float(quantity)
        return self.set_rows(name, rows.items())

    def set_dirt(self, name: str, dirt: Dirt | None = None, **settings: Any) -> Feed:
        """Switch dirt on (or off: no settings) for the feed."""
        chosen = dirt if dirt is not None else replace(Dirt(), **settings)
        return self._change(name, dirt=chosen)

    def set_validators(self, name: str, validators: str) -> Feed:
        """Which validators the feed is served with (`Feed.validators`); the file is the same."""
        if validators not in VALIDATORS:
            raise FeedError(f"validators must be one of {', '.join(VALIDATORS)}", 400)
        with self._lock:
            feed = self._feeds.get(name)
            if feed is None:
                raise FeedError(f"no feed {name!r}")
            feed.validators = validators
            return feed

    def touch(self, name: str) -> Feed:
        """A new version with the same rows (the vendor re-exported its file)."""
        return self._change(name)

    def _dirty_rows(self, feed: Feed) -> list[tuple[str, str, str]]:
        """The feed's rows as text (code, quantity, updated_at), dirt applied."""
        dirt = feed.dirt
        stamp_at = feed.modified_at - timedelta(hours=dirt.stale_hours or 0)
        stamp = stamp_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [(code, f"{quantity:g}", stamp) for code, quantity in feed.rows]
        rng = random.Random(feed.seed * 7919 + 17)
        positions = list(range(len(rows)))
        rng.shuffle(positions)
        picks = iter(positions)

        def take(count: int) -> list[int]:
            return [i for _, i in zip(range(count), picks, strict=False)]

        for i in take(dirt.negative):
            code, quantity, at = rows[i]
            rows[i] = (code, f"-{max(1.0, float(quantity)):g}", at)
        for i in take(dirt.unparsable):
            code, quantity, at = rows[i]
            rows[i] = (code, f"{quantity}x", at)
        for i in take(dirt.duplicates):
            code, quantity, at = rows[i]
            rows.append((code, f"{float(quantity) + 3:g}", at))
        if dirt.missing_codes:
            rows.extend((f"UNKNOWN-{n}", "5", stamp) for n in range(1, dirt.missing_codes + 1))
            rows.append(("", "7", stamp))
        return rows

    def render(self, name: str, format: str) -> Rendered:
        """The feed's file in `format` (csv or json), with its dirt."""
        if format not in FORMATS:
            raise FeedError(f"no format {format!r}; use one of {', '.join(FORMATS)}")
        feed = self.get(name)
        rows = self._dirty_rows(feed)
        encoding = feed.dirt.encoding or "utf-8"
        if format == "csv":
            lines = ["code,quantity,updated_at", *(",".join(_csv(v) for v in r) for r in rows)]
            text = "\n".join(lines) + "\n"
            body = text.encode(encoding, errors="replace")
            if feed.dirt.truncated and rows:
                # cut in the middle of the last row's quantity: no final newline
                last = ",".join(_csv(v) for v in rows[-1]).encode(encoding, errors="replace")
                body = body[: len(body) - len(last) - 1 + max(1, len(last) // 2)]
            content_type = f"text/csv; charset={encoding}"
        else:
            records = [{"code": c, "quantity": _number(q), "updated_at": u} for c, q, u in rows]
            text = orjson.dumps(records).decode()
            body = text.encode(encoding, errors="replace")
            if feed.dirt.truncated:
                body = body[: max(1, len(body) - 25)]
            content_type = f"application/json; charset={encoding}"
        stale = timedelta(hours=feed.dirt.stale_hours or 0)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return Rendered(body, etag, feed.modified_at - stale, content_type)

    def write_folder(
        self,
        name: str,
        folder: str | os.PathLike[str],
        format: str = "csv",
        file: str | None = None,
    ) -> Path:
        """Write the feed's file into `folder` the way a vendor's job would: under a dot name
        first, then renamed into place; its modification time is the feed's Last-Modified."""
        rendered = self.render(name, format)
        target = Path(folder) / (file or f"{name}.{format}")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(rendered.body)
        stamp = rendered.last_modified.timestamp()
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, target)
        return target

    def summary(self) -> dict[str, Any]:
        """Every feed: its rows, version, dirt and modification time."""
        with self._lock:
            return {
                name: {
                    "rows": len(feed.rows),
                    "version": feed.version,
                    "modified_at": feed.modified_at.isoformat(),
                    "dirt": {k: v for k, v in vars(feed.dirt).items() if v},
                    "protected": feed.token is not None,
                }
                for name, feed in sorted(self._feeds.items())
            }


def _csv(value: str) -> str:
    if any(ch in value for ch in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _number(text: str) -> Any:
    """A quantity as JSON would carry it: a number when it is one, else the text as sent."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def dirt_from(settings: dict[str, Any]) -> Dirt:
    """A `Dirt` from a control request's JSON (unknown keys refused)."""
    known = set(Dirt.__dataclass_fields__)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise FeedError(
            f"unknown dirt {', '.join(unknown)}; known: {', '.join(sorted(known))}", 400
        )
    return Dirt(**settings)


def rows_from(rows: Sequence[Any]) -> list[tuple[str, float]]:
    """Rows from a control request's JSON: ``[[code, quantity], ...]``."""
    try:
        return [(str(code), float(quantity)) for code, quantity in rows]
    except (TypeError, ValueError):
        raise FeedError("rows are [[code, quantity], ...]", 400) from None
