"""Drift in the audit log: what a reconciliation saw drifting, and what the publish corrected.

No table of its own (the audit log holds both): a run that measures drift records each
drifting listing a publish can correct (`reconciliation.drift`: what it showed, what it should
show, the cause), under the run's id as correlation id. A publish of the same run (its round
id is the run id) then records every one of those listings it had acknowledged
(`reconciliation.corrected`: before, the quantity shown and the cause; after, the quantity
acknowledged). A publish on a path without drift finds nothing to record. Both use the entity
of the listing's published state, so `audit.history(entity=...)` tells a listing's whole story.

It also reads, for the drift's causes, what other modules keep: the channels' order units since
a moment and the listings of open publish dead letters (when the fences were last based is
`fences.latest_epoch`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit, dlq
from inventory_pipelines.ledger.db import read_transaction
from inventory_pipelines.ledger.schema import outbox, pending_units

OBSERVED = "reconciliation.drift"
CORRECTED = "reconciliation.corrected"
ACTOR = "reconciliation"
_MANY = 10_000_000


def _entity(channel: str, listing_id: str) -> str:
    return f"published_state/{channel}/{listing_id}"


def _listing_of(entry: audit.AuditEntry) -> tuple[str, str]:
    return entry.source, entry.entity.split("/", 2)[2]


def record_drift(conn: Connection, rows: Sequence[Mapping[str, Any]], correlation_id: str) -> int:
    """Record each drifting listing (channel, listing_id, sku, expected, actual, cause) under
    `correlation_id` (the run); a listing already recorded under it is left as it is (a retried
    step). Returns how many were recorded."""
    if not rows:
        return 0
    seen = {
        _listing_of(e)
        for e in audit.history(conn, correlation_id=correlation_id, action=OBSERVED, limit=_MANY)
    }
    now = audit.utcnow()
    entries = [
        {
            "actor": ACTOR,
            "source": row["channel"],
            "action": OBSERVED,
            "entity": _entity(row["channel"], row["listing_id"]),
            "before": {"quantity": row["actual"]},
            "after": {"expected": row["expected"], "cause": row["cause"], "sku": row["sku"]},
            "correlation_id": correlation_id,
            "at": now,
        }
        for row in rows
        if (row["channel"], row["listing_id"]) not in seen
    ]
    audit.record_many(conn, entries)
    return len(entries)


def record_corrections(conn: Connection, round_id: str) -> dict[str, dict[str, int]]:
    """After a publish round: record each listing the same run saw drifting and this round had
    acknowledged (its re-plans after a stale compare included), once; return the corrections
    recorded per channel and cause."""
    observed = {
        _listing_of(e): e
        for e in audit.history(conn, correlation_id=round_id, action=OBSERVED, limit=_MANY)
    }
    if not observed:
        return {}
    done = {
        _listing_of(e)
        for e in audit.history(conn, correlation_id=round_id, action=CORRECTED, limit=_MANY)
    }
    query = (
        sa.select(
            outbox.c.channel,
            outbox.c.listing_id,
            outbox.c.quantity,
            outbox.c.round_id,
            outbox.c.acknowledged_at,
        )
        .where(
            outbox.c.status == "acknowledged",
            sa.or_(outbox.c.round_id == round_id, outbox.c.round_id.like(f"{round_id}:replan:%")),
            outbox.c.channel.in_(sorted({channel for channel, _ in observed})),
        )
        .order_by(outbox.c.acknowledged_at, outbox.c.id)
    )
    with read_transaction(conn):
        acknowledged = {(r.channel, r.listing_id): r for r in conn.execute(query)}
    now = audit.utcnow()
    entries = []
    counts: dict[str, dict[str, int]] = {}
    for key, row in acknowledged.items():
        entry = observed.get(key)
        if entry is None or key in done:
            continue
        cause = entry.after["cause"]
        entries.append(
            {
                "actor": ACTOR,
                "source": row.channel,
                "action": CORRECTED,
                "entity": entry.entity,
                "before": {"quantity": entry.before["quantity"], "cause": cause},
                "after": {
                    "quantity": row.quantity,
                    "expected": entry.after["expected"],
                    "round_id": row.round_id,
                },
                "correlation_id": round_id,
                "at": now,
            }
        )
        by_cause = counts.setdefault(row.channel, {})
        by_cause[cause] = by_cause.get(cause, 0) + 1
    audit.record_many(conn, entries)
    return counts


def channel_sales(
    conn: Connection, channels: Sequence[str], since: dt.datetime
) -> list[tuple[str, str, int, dt.datetime]]:
    """(channel, sku, units, accepted_at) of the channels' order units accepted after `since`
    and not released (in base units, as the inbox records them)."""
    query = sa.select(
        pending_units.c.channel,
        pending_units.c.sku,
        pending_units.c.quantity,
        pending_units.c.accepted_at,
    ).where(
        pending_units.c.channel.in_(list(channels)),
        pending_units.c.released_at.is_(None),
        pending_units.c.accepted_at > since,
    )
    with read_transaction(conn):
        return [(r.channel, r.sku, int(r.quantity), r.accepted_at) for r in conn.execute(query)]


def held_listings(conn: Connection, channels: Sequence[str]) -> list[tuple[str, str, int]]:
    """(channel, listing_id, dead letter id) of every listing an open publish dead letter of
    the channels holds an update of."""
    held = []
    for letter in dlq.list_open(conn, kind="publish"):
        if letter.channel not in channels:
            continue
        payload = letter.payload if isinstance(letter.payload, dict) else {}
        for item in payload.get("items") or []:
            if item.get("listing_id") is not None:
                held.append((letter.channel, str(item["listing_id"]), letter.id))
    return held
