"""The dead-letter queue: what failed after its retries, with payload, error and correlation id.

A publish dead letter's payload names the outbox rows it stands for (`outbox_ids`), the
batch key they were last sent under and the items themselves; `replay_publish` puts those
rows back to pending. Payloads are JSON without credentials (`add` refuses keys that name
one). Order dead letters come with the orders slice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import read_transaction, write_transaction
from inventory_pipelines.ledger.schema import DEAD_LETTER_KINDS, dead_letters, outbox


class DeadLetterError(ValueError):
    """A dead letter that does not exist or cannot be acted on as asked."""


@dataclass(frozen=True)
class DeadLetter:
    """One row of the dead-letter queue."""

    id: int
    channel: str
    kind: str
    payload: Any
    error: str
    correlation_id: str | None
    created_at: dt.datetime
    replayed_at: dt.datetime | None
    status: str


def add(
    conn: Connection,
    *,
    channel: str,
    kind: str,
    payload: Mapping[str, Any],
    error: str,
    correlation_id: str | None = None,
) -> int:
    """Add an open dead letter and return its id; `payload` is JSON without credentials."""
    if kind not in DEAD_LETTER_KINDS:
        raise DeadLetterError(f"kind {kind!r}: expected one of {', '.join(DEAD_LETTER_KINDS)}")
    audit.ensure_no_secrets(payload, "dead-letter payload")
    with write_transaction(conn):
        result = conn.execute(
            dead_letters.insert()
            .values(
                channel=channel,
                kind=kind,
                payload=dict(payload),
                error=error,
                correlation_id=correlation_id,
                created_at=audit.utcnow(),
                status="open",
            )
            .returning(dead_letters.c.id)
        )
        return int(result.scalar_one())


def get(conn: Connection, dead_letter_id: int) -> DeadLetter:
    """One dead letter by id (raises `DeadLetterError` if there is none)."""
    with read_transaction(conn):
        row = conn.execute(
            sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id)
        ).one_or_none()
    if row is None:
        raise DeadLetterError(f"no dead letter {dead_letter_id}")
    return DeadLetter(**row._mapping)


def list_open(conn: Connection, channel: str | None = None) -> list[DeadLetter]:
    """Open dead letters, oldest first, of one channel or of all."""
    query = sa.select(dead_letters).where(dead_letters.c.status == "open")
    if channel is not None:
        query = query.where(dead_letters.c.channel == channel)
    with read_transaction(conn):
        rows = conn.execute(query.order_by(dead_letters.c.id)).all()
    return [DeadLetter(**row._mapping) for row in rows]


def _close(conn: Connection, dead_letter_id: int, status: str, actor: str) -> DeadLetter:
    letter = get(conn, dead_letter_id)
    if letter.status != "open":
        raise DeadLetterError(f"dead letter {dead_letter_id} is {letter.status}, not open")
    now = audit.utcnow()
    conn.execute(
        dead_letters.update()
        .where(dead_letters.c.id == dead_letter_id, dead_letters.c.status == "open")
        .values(status=status, replayed_at=now if status == "replayed" else None)
    )
    audit.record(
        conn,
        actor=actor,
        source="ledger",
        action=f"dead_letter.{status}",
        entity=f"dead_letter/{dead_letter_id}",
        before={"status": "open"},
        after={"status": status},
        correlation_id=letter.correlation_id,
        at=now,
    )
    return letter


def mark_replayed(conn: Connection, dead_letter_id: int, *, actor: str = "ledger") -> None:
    """Mark an open dead letter replayed (its work was handed back for processing)."""
    with write_transaction(conn):
        _close(conn, dead_letter_id, "replayed", actor)


def discard(conn: Connection, dead_letter_id: int, *, actor: str) -> None:
    """Mark an open dead letter discarded (a person decided it needs no replay)."""
    with write_transaction(conn):
        _close(conn, dead_letter_id, "discarded", actor)


def replay_publish(conn: Connection, dead_letter_id: int, *, actor: str = "ledger") -> int:
    """Put the outbox rows of a publish dead letter back to pending; return how many.

    The rows start over (attempts 0) under a new generation, so the replayed batch gets a
    new idempotency key: the channel must not answer it from the failed request's cache.
    """
    with write_transaction(conn):
        letter = get(conn, dead_letter_id)
        if letter.kind != "publish":
            raise DeadLetterError(f"dead letter {dead_letter_id} is a {letter.kind}, not a publish")
        _close(conn, dead_letter_id, "replayed", actor)
        ids = [int(i) for i in letter.payload.get("outbox_ids", [])]
        if not ids:
            return 0
        result = conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(ids), outbox.c.status.in_(("dead", "rejected")))
            .values(
                status="pending",
                attempts=0,
                generation=outbox.c.generation + 1,
                batch_key=None,
                sent_at=None,
                last_error=None,
            )
        )
        return int(result.rowcount)
