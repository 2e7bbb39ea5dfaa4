"""Dirty SKUs: changed in Odoo, not critical, waiting for the next batch refresh.

The change sensor *marks* SKUs (an upsert: the first mark's time and reason are kept, each
mark counts one). The batch *claims* them for one run, under a token (the run's key), oldest
first; a claim is idempotent for its token, so an evaluation that is retried gets the same
SKUs back. When the run is over, the claim is *settled*:

- the run succeeded: its SKUs are cleared, but for those marked again after the claim (the
  run may have read Odoo before that change): they stay dirty, released for the next batch;
- the run failed, was cancelled or never came to be: every SKU is released, with its first
  mark's time and reason, and taken again by the next batch. Nothing is lost.

Claims work the same on SQLite (`BEGIN IMMEDIATE`) and PostgreSQL (`FOR UPDATE SKIP
LOCKED`): two batches never hold the same SKU.

`ordered_since` also lives here: which of some SKUs a channel order was heard of for lately
(the change sensor's "just ordered" routing reads it from the pending units).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import dirty_skus, pending_units

# SKUs per statement in IN lists and multi-row inserts (well under SQLite's variable limit)
_CHUNK = 500


@dataclass(frozen=True)
class DirtySku:
    """One dirty SKU as the ledger holds it."""

    sku: str
    reason: str
    first_marked_at: dt.datetime
    last_marked_at: dt.datetime
    marks: int
    claim: str | None
    attempts: int


@dataclass(frozen=True)
class Claim:
    """An outstanding claim: its token, how many SKUs it holds, since when."""

    token: str
    skus: int
    claimed_at: dt.datetime


@dataclass(frozen=True)
class Settled:
    """What settling a claim did."""

    cleared: int
    released: int


def mark(conn: Connection, reasons: Mapping[str, str], *, now: dt.datetime | None = None) -> int:
    """Mark SKUs dirty (sku -> reason); a SKU already dirty keeps its first time and reason.
    Returns how many SKUs were marked."""
    if not reasons:
        return 0
    now = now or audit.utcnow()
    insert = (postgresql.insert if is_postgresql(conn) else sqlite.insert)(dirty_skus)
    statement = insert.on_conflict_do_update(
        index_elements=[dirty_skus.c.sku],
        set_={"last_marked_at": now, "marks": dirty_skus.c.marks + 1},
    )
    rows = [
        {
            "sku": sku,
            "reason": reason[:128],
            "first_marked_at": now,
            "last_marked_at": now,
            "marks": 1,
            "attempts": 0,
        }
        for sku, reason in sorted(reasons.items())
    ]
    with write_transaction(conn):
        for start in range(0, len(rows), _CHUNK):
            conn.execute(statement, rows[start : start + _CHUNK])
    return len(rows)


def claim(conn: Connection, token: str, *, limit: int, now: dt.datetime | None = None) -> list[str]:
    """Claim up to `limit` unclaimed dirty SKUs for `token`, oldest mark first.

    Idempotent: if `token` already holds SKUs, those are returned and nothing more is taken.
    """
    now = now or audit.utcnow()
    with write_transaction(conn):
        held = _held(conn, token)
        if held:
            return held
        query = (
            sa.select(dirty_skus.c.sku)
            .where(dirty_skus.c.claim.is_(None))
            .order_by(dirty_skus.c.first_marked_at, dirty_skus.c.sku)
            .limit(limit)
        )
        if is_postgresql(conn):
            query = query.with_for_update(skip_locked=True)
        chosen = list(conn.execute(query).scalars())
        for start in range(0, len(chosen), _CHUNK):
            conn.execute(
                dirty_skus.update()
                .where(
                    dirty_skus.c.sku.in_(chosen[start : start + _CHUNK]),
                    dirty_skus.c.claim.is_(None),
                )
                .values(
                    claim=token,
                    claimed_at=now,
                    claimed_marks=dirty_skus.c.marks,
                    attempts=dirty_skus.c.attempts + 1,
                )
            )
        return _held(conn, token)


def settle(conn: Connection, token: str, *, succeeded: bool) -> Settled:
    """End `token`'s claim: cleared on success (but for SKUs marked again since the claim),
    released otherwise."""
    held = dirty_skus.c.claim == token
    with write_transaction(conn):
        cleared = 0
        if succeeded:
            cleared = conn.execute(
                dirty_skus.delete().where(held, dirty_skus.c.marks == dirty_skus.c.claimed_marks)
            ).rowcount
        released = conn.execute(
            dirty_skus.update().where(held).values(claim=None, claimed_at=None, claimed_marks=None)
        ).rowcount
    return Settled(int(cleared), int(released))


def claims(conn: Connection) -> list[Claim]:
    """Every outstanding claim, oldest first."""
    query = (
        sa.select(dirty_skus.c.claim, sa.func.count(), sa.func.min(dirty_skus.c.claimed_at))
        .where(dirty_skus.c.claim.is_not(None))
        .group_by(dirty_skus.c.claim)
    )
    with read_transaction(conn):
        found = [
            Claim(token, int(count), claimed_at) for token, count, claimed_at in conn.execute(query)
        ]
    return sorted(found, key=lambda c: (c.claimed_at, c.token))


def rows(conn: Connection, *, claim: str | None = None) -> list[DirtySku]:
    """The dirty SKUs (all, or those `claim` holds), oldest mark first."""
    query = sa.select(dirty_skus).order_by(dirty_skus.c.first_marked_at, dirty_skus.c.sku)
    if claim is not None:
        query = query.where(dirty_skus.c.claim == claim)
    with read_transaction(conn):
        return [
            DirtySku(
                r.sku,
                r.reason,
                r.first_marked_at,
                r.last_marked_at,
                int(r.marks),
                r.claim,
                int(r.attempts),
            )
            for r in conn.execute(query)
        ]


def count(conn: Connection) -> dict[str, int]:
    """Dirty SKUs waiting (`unclaimed`) and held by a batch run (`claimed`)."""
    query = sa.select(
        sa.func.count().filter(dirty_skus.c.claim.is_(None)),
        sa.func.count().filter(dirty_skus.c.claim.is_not(None)),
    )
    with read_transaction(conn):
        unclaimed, claimed = conn.execute(query).one()
    return {"unclaimed": int(unclaimed or 0), "claimed": int(claimed or 0)}


def ordered_since(conn: Connection, skus: Iterable[str], since: dt.datetime) -> set[str]:
    """Those of `skus` a channel order was accepted for at or after `since`."""
    wanted = sorted(set(skus))
    found: set[str] = set()
    with read_transaction(conn):
        for start in range(0, len(wanted), _CHUNK):
            query = (
                sa.select(pending_units.c.sku)
                .where(
                    pending_units.c.accepted_at >= since,
                    pending_units.c.sku.in_(wanted[start : start + _CHUNK]),
                )
                .distinct()
            )
            found.update(conn.execute(query).scalars())
    return found


def _held(conn: Connection, token: str) -> list[str]:
    query = sa.select(dirty_skus.c.sku).where(dirty_skus.c.claim == token)
    return sorted(conn.execute(query).scalars())
