"""What reading a supplier feed gives the pure steps: the parse in use and how it was obtained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

#: problems of a body that was fetched but cannot be read (each is one quarantine row)
BODY_PROBLEMS = ("truncated_feed", "malformed_feed", "missing_columns")


@dataclass(frozen=True)
class FeedProblem:
    """What went wrong with this attempt to read a feed.

    `reason` is a body problem (`BODY_PROBLEMS`, quarantined with `excerpt`, the end of the
    body) or one of ``unreachable``, ``http_error``, ``not_found``, ``not_configured``.
    """

    reason: str
    detail: str
    excerpt: str | None = None

    def describe(self) -> str:
        """`reason: detail`, as an output row's reason shows it."""
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class FeedRead:
    """A feed as the run reads it: the parse in use (None: no usable feed, now or before),
    where it came from, the answer this attempt got, and what went wrong if anything."""

    feed: str  # "vendor:<code>" or "threepl:<warehouse>"
    source: str  # the URL or path, without query or credentials
    parsed: pl.DataFrame | None
    status: int  # 200, 304, an HTTP error status, 404 (no file), 0 (not reached)
    #: when the feed was current (a row without its own time is true as of then): the time
    #: the source states (Last-Modified, the file's time), else its last confirmation
    feed_as_of: datetime | None
    fetched_at: datetime | None  # when the body in use was first fetched
    #: no row of the body is true later than this (a row's own later time is cut to it)
    written_by: datetime | None = None
    #: the body was written after this: its stated time, else the last confirmation of the
    #: body it replaced (None: unknown; the drop-ship units reserved before are not in it)
    written_after: datetime | None = None
    from_cache: bool = False  # the parse is the last good one, reused
    problem: FeedProblem | None = None
    object_name: str | None = None  # folder feeds: the file read
    encoding: str | None = None
