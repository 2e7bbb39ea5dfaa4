"""The dead-letter queue: what failed after its retries, with payload, error and correlation id.

A publish dead letter's payload names the outbox rows it stands for (`outbox_ids`), the
batch key they were last sent under and the items themselves; `replay_publish` puts those
rows back to pending. An order dead letter's payload is the channel's event (`order`) and
the inbox row it was parked from (`inbox_id`), or ``inbox_id: None`` when the event could
not become an inbox row at all; `inbox.replay_parked` puts a parked row back. Payloads are
JSON without credentials (`add` refuses keys that name one).

A letter is closed by a replay or by a person's `discard`, with a reason; both are audited
(entity ``dead_letter/<id>``: actor, reason, status before and after). `describe` says what
a letter is and whether it can be replayed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import DEAD_LETTER_KINDS, dead_letters, order_inbox, outbox


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


def list_open(
    conn: Connection, channel: str | None = None, kind: str | None = None
) -> list[DeadLetter]:
    """Open dead letters, oldest first, of one channel or of all (of one kind, or of both)."""
    query = sa.select(dead_letters).where(dead_letters.c.status == "open")
    if channel is not None:
        query = query.where(dead_letters.c.channel == channel)
    if kind is not None:
        query = query.where(dead_letters.c.kind == kind)
    with read_transaction(conn):
        rows = conn.execute(query.order_by(dead_letters.c.id)).all()
    return [DeadLetter(**row._mapping) for row in rows]


def _close(
    conn: Connection,
    dead_letter_id: int,
    status: str,
    actor: str,
    reason: str | None,
    source: str,
) -> DeadLetter:
    query = sa.select(dead_letters).where(dead_letters.c.id == dead_letter_id)
    if is_postgresql(conn):
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        raise DeadLetterError(f"no dead letter {dead_letter_id}")
    letter = DeadLetter(**row._mapping)
    if letter.status != "open":
        raise DeadLetterError(f"dead letter {dead_letter_id} is {letter.status}, not open")
    now = audit.utcnow()
    conn.execute(
        dead_letters.update()
        .where(dead_letters.c.id == dead_letter_id, dead_letters.c.status == "open")
        .values(status=status, replayed_at=now if status == "replayed" else None)
    )
    after: dict[str, Any] = {"status": status}
    if reason is not None:
        after["reason"] = reason
    audit.record(
        conn,
        actor=actor,
        source=source,
        action=f"dead_letter.{status}",
        entity=f"dead_letter/{dead_letter_id}",
        before={"status": "open", "kind": letter.kind, "channel": letter.channel},
        after=after,
        correlation_id=letter.correlation_id,
        at=now,
    )
    return letter


def mark_replayed(
    conn: Connection, dead_letter_id: int, *, actor: str = "ledger", reason: str | None = None
) -> None:
    """Mark an open dead letter replayed (its work was handed back for processing)."""
    with write_transaction(conn):
        _close(conn, dead_letter_id, "replayed", actor, reason, "ledger")


def discard(
    conn: Connection, dead_letter_id: int, *, actor: str, reason: str, source: str = "ledger"
) -> DeadLetter:
    """Close an open dead letter for good: a person decided its work is not to be done (an
    order refused, an update overtaken). `reason` is required and goes to the audit log."""
    if not reason or not reason.strip():
        raise DeadLetterError("discarding a dead letter takes a reason")
    if not actor or not actor.strip():
        raise DeadLetterError("discarding a dead letter takes an actor")
    with write_transaction(conn):
        return _close(conn, dead_letter_id, "discarded", actor, reason.strip(), source)


def history(conn: Connection, dead_letter_id: int) -> list[audit.AuditEntry]:
    """What was done to a letter, oldest first (from the audit log)."""
    return audit.history(conn, entity=f"dead_letter/{dead_letter_id}")


def describe(conn: Connection, letter: DeadLetter) -> dict[str, Any]:
    """A letter as plain JSON values: what it is, where it stands, and whether it can be
    replayed (``replayable``, and ``not_replayable`` saying why not)."""
    payload = letter.payload if isinstance(letter.payload, dict) else {}
    closed = None
    if letter.status != "open":
        entries = history(conn, letter.id)
        if entries:
            last = entries[-1]
            closed = {
                "at": last.at.isoformat(),
                "by": last.actor,
                "reason": (last.after or {}).get("reason"),
            }
    out: dict[str, Any] = {
        "id": letter.id,
        "kind": letter.kind,
        "channel": letter.channel,
        "status": letter.status,
        "error": letter.error,
        "correlation_id": letter.correlation_id,
        "created_at": letter.created_at.isoformat(),
        "closed": closed,
    }
    why_not: str | None = None
    if letter.kind == "publish":
        items = payload.get("items") or []
        out["items"] = len(items) or len(payload.get("outbox_ids") or [])
        out["skus"] = sorted({str(i.get("sku")) for i in items if i.get("sku")})
    else:
        inbox_id = payload.get("inbox_id")
        out["items"] = 1
        out["order"] = {
            "external_id": payload.get("external_id"),
            "event": payload.get("event"),
            "route": payload.get("route"),
            "inbox_id": inbox_id,
            "inbox_status": None,
        }
        if inbox_id is None:
            why_not = (
                "the event was parked as the channel sent it and never reached the inbox: "
                "a corrected event from the channel goes in on its own"
            )
        else:
            with read_transaction(conn):
                inbox_status = conn.execute(
                    sa.select(order_inbox.c.status).where(order_inbox.c.id == int(inbox_id))
                ).scalar_one_or_none()
            out["order"]["inbox_status"] = inbox_status
            if inbox_status != "parked":
                why_not = f"its inbox row {inbox_id} is {inbox_status or 'gone'}, not parked"
    if letter.status != "open":
        why_not = f"it is {letter.status}"
    out["replayable"] = why_not is None
    out["not_replayable"] = why_not
    return out


def replay_publish(conn: Connection, dead_letter_id: int, *, actor: str = "ledger") -> int:
    """Put the outbox rows of a publish dead letter back to pending; return how many.

    The rows start over (attempts 0) under a new generation, so the replayed batch gets a
    new idempotency key: the channel must not answer it from the failed request's cache.
    """
    with write_transaction(conn):
        letter = get(conn, dead_letter_id)
        if letter.kind != "publish":
            raise DeadLetterError(f"dead letter {dead_letter_id} is a {letter.kind}, not a publish")
        ids = [int(i) for i in letter.payload.get("outbox_ids", [])]
        _close(
            conn,
            dead_letter_id,
            "replayed",
            actor,
            f"{len(ids)} outbox row(s) back to pending",
            "ledger",
        )
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
