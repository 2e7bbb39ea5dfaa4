"""Per-channel publish leases: one publisher at a time per channel, on every path.

Dagster's `channel_publishing` pool keeps two runs from publishing one channel at once, but
`inventory-sync sync`, an emergency stop published in process, and the webhook receiver's fast
runs can publish outside it. Two publishers of one channel planning from what each believes
the channel shows can leave a listing one step behind; so `publish_round` takes the channel's
lease here first, in the ledger every process shares (SQLite or PostgreSQL, one row per
channel), and the others wait for it.

A lease runs out `ttl` after it was last renewed, so a publisher that died (kill -9, a lost
pod) holds nothing for long; one that died on this machine (its process is gone) holds
nothing at all. A holder renews as it works (each batch); one that finds its lease taken (it
stalled past the ttl and another publisher took over) stops, and its work is left in the
outbox for the next round.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import channel_leases

TTL = dt.timedelta(seconds=60)
#: how long a publisher waits for another's lease on a channel before it gives up
WAIT = dt.timedelta(minutes=15)
_POLL_S = 0.25


class ChannelBusyError(RuntimeError):
    """Another publisher holds the channel's lease (and kept it past the wait)."""


class LeaseLostError(RuntimeError):
    """This publisher's lease ran out and another publisher took the channel."""


@dataclass(frozen=True)
class Lease:
    """Who holds a channel's lease, since when, and until when (unless renewed)."""

    channel: str
    holder: str
    acquired_at: dt.datetime
    expires_at: dt.datetime


def new_holder(label: str = "publisher") -> str:
    """A holder name unique to this call, readable in `status`: label, host, pid, a nonce."""
    return f"{label}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _gone(holder: str) -> bool:
    """True when `holder` ran on this machine and its process no longer exists."""
    try:
        where, pid, _ = holder.rsplit("@", 1)[1].rsplit(":", 2)
        if where != socket.gethostname() or int(pid) == os.getpid():
            return False
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, IndexError, PermissionError):
        return False  # not one of ours, or alive under another user
    return False


def _row(conn: Connection, channel: str) -> sa.Row | None:
    query = sa.select(channel_leases).where(channel_leases.c.channel == channel)
    if is_postgresql(conn):
        query = query.with_for_update()
    return conn.execute(query).first()


def try_acquire(
    conn: Connection, channel: str, holder: str, *, ttl: dt.timedelta = TTL
) -> Lease | None:
    """Take (or renew) the channel's lease for `holder`; None when another holds it unexpired."""
    now = audit.utcnow()
    with write_transaction(conn):
        row = _row(conn, channel)
        if (
            row is not None
            and row.holder != holder
            and row.expires_at > now
            and not _gone(row.holder)
        ):
            return None
        acquired = row.acquired_at if row is not None and row.holder == holder else now
        values = {"holder": holder, "acquired_at": acquired, "expires_at": now + ttl}
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(channel_leases.insert().values(channel=channel, **values))
            except sa.exc.IntegrityError:
                return None  # another publisher inserted it first
        else:
            conn.execute(
                channel_leases.update().where(channel_leases.c.channel == channel).values(values)
            )
    return Lease(channel, holder, acquired, now + ttl)


def holder_of(conn: Connection, channel: str) -> Lease | None:
    """The channel's unexpired lease, or None."""
    with read_transaction(conn):
        row = conn.execute(
            sa.select(channel_leases).where(channel_leases.c.channel == channel)
        ).first()
    if row is None or row.expires_at <= audit.utcnow():
        return None
    return Lease(row.channel, row.holder, row.acquired_at, row.expires_at)


def release(conn: Connection, channel: str, holder: str) -> None:
    """Give the lease back (only `holder`'s own)."""
    with write_transaction(conn):
        conn.execute(
            channel_leases.delete().where(
                channel_leases.c.channel == channel, channel_leases.c.holder == holder
            )
        )


class Leases:
    """The leases one publisher holds on its channels, renewed as it works."""

    def __init__(self, engine: Engine, holder: str, ttl: dt.timedelta = TTL) -> None:
        self.engine = engine
        self.holder = holder
        self.ttl = ttl
        self._renewed: dict[str, float] = {}
        self._lock = threading.Lock()

    def renew(self, channel: str) -> None:
        """Renew the channel's lease once a third of its ttl has passed since the last time;
        raise `LeaseLostError` if another publisher has it now."""
        with self._lock:
            last = self._renewed.get(channel, 0.0)
            if time.monotonic() - last < self.ttl.total_seconds() / 3:
                return
            self._renewed[channel] = time.monotonic()
        with self.engine.connect() as conn:
            if try_acquire(conn, channel, self.holder, ttl=self.ttl) is None:
                raise LeaseLostError(
                    f"{channel}: the publish lease ran out and another publisher took the "
                    "channel; what this round left unsent stays in the outbox for the next one"
                )

    def _taken(self, channel: str) -> None:
        with self._lock:
            self._renewed[channel] = time.monotonic()


@contextmanager
def holding(
    engine: Engine,
    channels: Sequence[str],
    holder: str,
    *,
    ttl: dt.timedelta = TTL,
    wait: dt.timedelta = WAIT,
    sleep: Callable[[float], None] = time.sleep,
    waiting: Callable[[str, Lease], None] | None = None,
) -> Iterator[Leases]:
    """Hold the leases of `channels` (taken in name order, so two publishers of overlapping
    channels never hold one each and wait for the other) for the block; released after.

    Waits for a lease another publisher holds, up to `wait`, calling `waiting(channel, lease)`
    once per channel it waits for; then raises `ChannelBusyError` naming the holder.
    """
    leases = Leases(engine, holder, ttl)
    taken: list[str] = []
    try:
        for channel in sorted(set(channels)):
            deadline = time.monotonic() + wait.total_seconds()
            told = False
            while True:
                with engine.connect() as conn:
                    if try_acquire(conn, channel, holder, ttl=ttl) is not None:
                        break
                    other = holder_of(conn, channel)
                if other is not None and not told and waiting is not None:
                    waiting(channel, other)
                    told = True
                if time.monotonic() >= deadline:
                    who = (
                        f"{other.holder} since {other.acquired_at.isoformat(timespec='seconds')}"
                        if other
                        else "another publisher"
                    )
                    raise ChannelBusyError(
                        f"{channel}: being published by {who}; waited "
                        f"{wait.total_seconds():g} s. Try again when it has finished "
                        "(`inventory-sync status` shows who holds it)"
                    )
                sleep(_POLL_S)
            taken.append(channel)
            leases._taken(channel)
        yield leases
    finally:
        with engine.connect() as conn:
            for channel in taken:
                release(conn, channel, holder)
