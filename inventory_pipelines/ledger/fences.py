"""Fences: since when each ring-fenced channel's sales are counted against its own fence.

A ring-fenced channel owns a share of the stock: its sales consume its fence unit for unit and
no other channel's; stock that arrives or leaves otherwise is shared out by the percentages
(DESIGN.md section 3). The allocation computes that from two facts kept here: the epoch the
fences were last based at, and the units each channel sold since (the pending units the order
inbox recorded, less those released by a cancellation before Odoo reserved them).

An epoch is identified by a signature of the fenced channels' shares: when the shares change,
the fences are based anew (each channel's share of the net pool at that moment), since a sale
made under the old shares says nothing about the new ones.

Sales the channel made and no order has told us of yet (webhook lag) are known too, from the
channel's own answers: a compare-and-set that comes back stale shows the channel lower than we
believed it, by what it sold meanwhile. Such drops are recorded here; until orders explain them
they count as that channel's sales and as pending units, so no quantity is raised back over
units the channel already sold. A read-back followed by a poll of the channel's orders explains
every drop before it (each sale it shows is then heard of, and what is left is an edit the
next publish corrects): `reset_drops` marks that moment.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit, inbox
from inventory_pipelines.ledger.db import read_transaction, write_transaction
from inventory_pipelines.ledger.schema import (
    channel_drops,
    fence_epochs,
    pending_units,
    poll_cursors,
)

# poll_cursors rows (per channel): the last reset of its drops, its last read-back
_RESET = "drops_reset"
_READ_BACK = "read_back"
# the sales that explain drops after a reset: those heard from here on (see reset_drops)
_HEARD_FROM = "sales_heard_from"
# poll_cursors row (per channel): the epoch under which its whole catalog was last published
_SETTLED = "fences_settled"


@dataclass(frozen=True)
class Epoch:
    """The fences' current epoch: its row id, when it began, its signature and the channels it
    fences, and whether it replaced an earlier epoch (the shares changed) or is the first."""

    id: int
    started_at: dt.datetime
    signature: str
    channels: frozenset[str]
    replaced: bool


def current_epoch(
    conn: Connection, signature: str, *, now: dt.datetime | None = None
) -> dt.datetime:
    """When the fences of `signature` were based; starts (and audits) a new epoch on a change."""
    row = latest_epoch(conn)
    if row is not None and row.signature == signature:
        return row.started_at
    started = now or audit.utcnow()
    with write_transaction(conn):
        # Another run may have started it meanwhile: the newest row decides.
        again = latest_epoch(conn)
        if again is not None and again.signature == signature:
            return again.started_at
        conn.execute(fence_epochs.insert().values(signature=signature, started_at=started))
        audit.record(
            conn,
            actor="allocation",
            source="rules",
            action="fences.rebased",
            entity="fence_epochs",
            before=None if again is None else {"signature": again.signature},
            after={"signature": signature, "started_at": started.isoformat()},
        )
    return started


def latest_epoch(conn: Connection) -> Epoch | None:
    """The newest epoch (None before any allocation based the fences)."""
    query = (
        sa.select(fence_epochs.c.id, fence_epochs.c.signature, fence_epochs.c.started_at)
        .order_by(fence_epochs.c.id.desc())
        .limit(2)
    )
    with read_transaction(conn):
        rows = conn.execute(query).all()
    if not rows:
        return None
    newest = rows[0]
    return Epoch(
        id=int(newest.id),
        started_at=newest.started_at,
        signature=newest.signature,
        channels=_fenced(newest.signature),
        replaced=len(rows) > 1,
    )


def _fenced(signature: str) -> frozenset[str]:
    """The channels a signature fences: `allocation.engine.fence_signature` writes a JSON
    object of channel to share; any other text (written by hand, or by a test) names none."""
    try:
        shares = json.loads(signature)
    except ValueError:
        return frozenset()
    return frozenset(shares) if isinstance(shares, dict) else frozenset()


def mark_settled(conn: Connection, channel: str, epoch: Epoch) -> None:
    """`channel`'s whole catalog was published from an allocation under `epoch`, and none of
    its zero-outs or decreases waits: it shows no more than its new share gives it."""
    inbox.set_cursor(conn, channel, str(epoch.id), name=_SETTLED)


def unsettled(conn: Connection, epoch: Epoch | None) -> list[str]:
    """The fenced channels that have not published their whole catalog since the shares
    changed (`epoch` replaced an earlier one). Until they have, they may still show their old
    share: another channel's increase could then offer units twice. Empty for the first epoch
    (nothing was published under other shares) and with no fences."""
    if epoch is None or not epoch.replaced:
        return []
    return sorted(
        channel
        for channel in epoch.channels
        if inbox.get_cursor(conn, channel, name=_SETTLED) != str(epoch.id)
    )


def sales_since(
    conn: Connection, since: dt.datetime, snapshot_at: dt.datetime | None = None
) -> dict[tuple[str, str, str | None], int]:
    """(channel, sku, warehouse) -> units accepted on the channel since `since`, not released
    since, that our own stock ships: units on the drop-ship route are the vendor's and consume
    no fence. `warehouse` is where Odoo reserved them, for units the snapshot taken at
    `snapshot_at` holds reserved; None for the others (pending: they count against every pool)
    and where it is not known."""
    own = pending_units.c.quantity - pending_units.c.dropship_quantity
    keys: list[sa.ColumnElement[Any]] = [pending_units.c.channel, pending_units.c.sku]
    if snapshot_at is not None:
        where = sa.case(
            (pending_units.c.reserved_at <= snapshot_at, pending_units.c.warehouse),
            else_=sa.null(),
        )
        keys.append(where.label("where"))
    query = (
        sa.select(*keys, sa.func.sum(own))
        .where(pending_units.c.accepted_at >= since, pending_units.c.released_at.is_(None))
        .group_by(*keys)
    )
    with read_transaction(conn):
        out: dict[tuple[str, str, str | None], int] = {}
        for row in conn.execute(query):
            channel, sku, total = row[0], row[1], row[-1]
            if total:
                key = (channel, sku, row[2] if snapshot_at is not None else None)
                out[key] = out.get(key, 0) + int(total)
        return out


def record_drops(conn: Connection, drops: Sequence[dict[str, Any]]) -> None:
    """Record drops a channel showed (each: channel, sku, listing_id, units > 0, correlation_id)."""
    rows = [
        {**d, "units": int(d["units"]), "observed_at": d.get("observed_at") or audit.utcnow()}
        for d in drops
        if int(d["units"]) > 0
    ]
    if rows:
        with write_transaction(conn):
            conn.execute(channel_drops.insert(), rows)


def reset_drops(
    conn: Connection,
    channel: str,
    at: dt.datetime | None = None,
    *,
    heard_from: dt.datetime | None = None,
) -> None:
    """Every drop of `channel` observed before `at` is explained (a read-back, then a poll);
    from then on drops are weighed against the sales heard from `heard_from` (default `at`).

    A poll that started at `at` hears, after `at`, sales made before the read-back: those are
    in what the read-back showed, so no later drop holds them, and counted against the drops
    they would hide as many unheard sales. So after a poll, only the sales heard once it ended
    explain drops (a sale made and heard during the poll, later seen as a drop, then counts
    as unheard until the next reset: units held back, never oversold)."""
    at = at or audit.utcnow()
    _set_mark(conn, channel, _RESET, at)
    _set_mark(conn, channel, _HEARD_FROM, max(at, heard_from or at))


def unexplained_drops(conn: Connection, since: dt.datetime) -> dict[tuple[str, str], int]:
    """(channel, sku) -> units the channel was seen to lose that no order explains yet:
    drops observed since its last reset (or `since`, the fence epoch) less the units its
    orders accepted since then (since the poll that reset them ended: see `reset_drops`)."""
    with read_transaction(conn):
        marks = conn.execute(
            sa.select(poll_cursors.c.channel, poll_cursors.c.name, poll_cursors.c.cursor).where(
                poll_cursors.c.name.in_((_RESET, _HEARD_FROM))
            )
        ).all()
        resets = {c: dt.datetime.fromisoformat(v) for c, n, v in marks if n == _RESET and v}
        heard_from = {
            c: dt.datetime.fromisoformat(v) for c, n, v in marks if n == _HEARD_FROM and v
        }
        observed = conn.execute(
            sa.select(
                channel_drops.c.channel,
                channel_drops.c.sku,
                channel_drops.c.units,
                channel_drops.c.observed_at,
            ).where(channel_drops.c.observed_at >= since)
        ).all()
        if not observed:
            return {}
        dropped: dict[tuple[str, str], int] = {}
        for channel, sku, units, at in observed:
            if at > max(since, resets.get(channel, since)):
                dropped[(channel, sku)] = dropped.get((channel, sku), 0) + int(units)
        if not dropped:
            return {}
        heard = conn.execute(
            sa.select(
                pending_units.c.channel,
                pending_units.c.sku,
                pending_units.c.quantity,
                pending_units.c.accepted_at,
            ).where(
                pending_units.c.accepted_at >= since,
                pending_units.c.released_at.is_(None),
                pending_units.c.sku.in_(sorted({sku for _, sku in dropped})),
            )
        ).all()
    explained: dict[tuple[str, str], int] = {}
    for channel, sku, quantity, at in heard:
        start = max(since, resets.get(channel, since), heard_from.get(channel, since))
        if (channel, sku) in dropped and at > start:
            explained[(channel, sku)] = explained.get((channel, sku), 0) + int(quantity)
    return {
        key: units - explained.get(key, 0)
        for key, units in dropped.items()
        if units > explained.get(key, 0)
    }


def unheard_rise(
    conn: Connection, channel: str, drops: Mapping[str, int], as_of: dt.datetime
) -> dict[str, int] | None:
    """SKU -> how many more of `channel`'s units the allocation counts as sold and unheard once
    `drops` (SKU -> base units the channel was just seen to lose) are recorded, than it did
    when it read the ledger at `as_of`; None when the fences were based anew or the drops reset
    since then (the whole drop is then the safe answer).

    The allocation counts a channel's observed drops less its heard sales (`unexplained_drops`,
    both since the last reset): a drop made of sales already heard at `as_of` is already in a
    target computed then, and lowering that target by it again would hide units the channel
    still has. So a stale target is lowered by this rise, not by the whole drop. The heard
    sales are taken as of `as_of`, not now: a sale heard since is not in the target, and must
    come off it here if the drop holds it.
    """
    if not drops:
        return {}
    with read_transaction(conn):
        latest = latest_epoch(conn)
        epoch = latest.started_at if latest else None
        reset = _mark(conn, channel, _RESET)
        since = max(x for x in (epoch, reset) if x is not None) if (epoch or reset) else None
        if since is None or since > as_of:
            return None
        heard_since = max(since, _mark(conn, channel, _HEARD_FROM) or since)
        skus = sorted(drops)
        observed = conn.execute(
            sa.select(
                channel_drops.c.sku, channel_drops.c.units, channel_drops.c.observed_at
            ).where(
                channel_drops.c.channel == channel,
                channel_drops.c.observed_at > since,
                channel_drops.c.sku.in_(skus),
            )
        ).all()
        heard = conn.execute(
            sa.select(pending_units.c.sku, sa.func.sum(pending_units.c.quantity))
            .where(
                pending_units.c.channel == channel,
                pending_units.c.accepted_at > heard_since,
                pending_units.c.accepted_at <= as_of,
                pending_units.c.released_at.is_(None),
                pending_units.c.sku.in_(skus),
            )
            .group_by(pending_units.c.sku)
        ).all()
    heard_then = {sku: int(total or 0) for sku, total in heard}
    dropped_now: dict[str, int] = {}
    dropped_then: dict[str, int] = {}
    for sku, units, at in observed:
        dropped_now[sku] = dropped_now.get(sku, 0) + int(units)
        if at <= as_of:
            dropped_then[sku] = dropped_then.get(sku, 0) + int(units)
    rise = {}
    for sku, units in drops.items():
        heard_sku = heard_then.get(sku, 0)
        before = max(0, dropped_then.get(sku, 0) - heard_sku)
        after = max(0, dropped_now.get(sku, 0) + max(0, int(units)) - heard_sku)
        rise[sku] = max(0, after - before)
    return rise


def allocation_inputs(
    conn: Connection, signature: str, snapshot_at: dt.datetime | None
) -> tuple[dict[str, int], dict[tuple[str, str, str | None], int], dt.datetime]:
    """What the allocation takes from the ledger: pending units per SKU, each channel's sales
    per SKU since the fences were based (keyed by where Odoo reserved them, see
    :func:`sales_since`), and that epoch.

    Pending units are those accepted by channels and not reserved in the snapshot taken at
    `snapshot_at`, plus the drops no order explains yet; the same drops count as the sales of
    the channel that showed them.
    """
    epoch = current_epoch(conn, signature)
    with read_transaction(conn):
        pending = inbox.pending_by_sku(conn, snapshot_at)
        sold = sales_since(conn, epoch, snapshot_at)
        for (channel, sku), units in unexplained_drops(conn, epoch).items():
            pending[sku] = pending.get(sku, 0) + units
            sold[(channel, sku, None)] = sold.get((channel, sku, None), 0) + units
    return pending, sold, epoch


def note_read_back(conn: Connection, channel: str, at: dt.datetime) -> None:
    """The channel's catalog was read back at `at` (the next poll of its orders explains every
    drop before it: see `explain_drops_after_poll`)."""
    _set_mark(conn, channel, _READ_BACK, at)


def explain_drops_after_poll(conn: Connection, channel: str, polled_at: dt.datetime) -> bool:
    """After a poll of the channel's orders that started at `polled_at`: if its catalog was
    read back before that and after the last reset, every drop observed before `polled_at` is
    explained (reset there; drops observed since stay); whether it was."""
    read_back = _mark(conn, channel, _READ_BACK)
    if read_back is None or read_back > polled_at:
        return False
    last = _mark(conn, channel, _RESET)
    if last is not None and last >= read_back:
        return False
    reset_drops(conn, channel, polled_at, heard_from=audit.utcnow())
    return True


def _set_mark(conn: Connection, channel: str, name: str, at: dt.datetime) -> None:
    inbox.set_cursor(conn, channel, at.isoformat(), name=name)


def _mark(conn: Connection, channel: str, name: str) -> dt.datetime | None:
    value = inbox.get_cursor(conn, channel, name=name)
    return dt.datetime.fromisoformat(value) if value else None


def last_sale_heard(
    conn: Connection, channel: str, skus: Collection[str] | None = None
) -> dict[str, dt.datetime]:
    """SKU -> when the ledger last heard of a sale of it on `channel` (not released since);
    for `skus` only when given (a few), else for every SKU the channel ever sold."""
    query = (
        sa.select(pending_units.c.sku, sa.func.max(pending_units.c.accepted_at))
        .where(pending_units.c.channel == channel, pending_units.c.released_at.is_(None))
        .group_by(pending_units.c.sku)
    )
    if skus is not None:
        if not skus:
            return {}
        query = query.where(pending_units.c.sku.in_(sorted(skus)))
    with read_transaction(conn):
        return {sku: at for sku, at in conn.execute(query) if at is not None}


def sold_after(conn: Connection, channel: str, since: Mapping[str, dt.datetime]) -> dict[str, int]:
    """SKU -> units the channel's orders took after the moment given per SKU in `since` (not
    released): what explains a channel showing less than we last set."""
    if not since:
        return {}
    query = sa.select(
        pending_units.c.sku, pending_units.c.quantity, pending_units.c.accepted_at
    ).where(
        pending_units.c.channel == channel,
        pending_units.c.released_at.is_(None),
        pending_units.c.accepted_at >= min(since.values()),
        pending_units.c.sku.in_(sorted(since)),
    )
    sold: dict[str, int] = {}
    with read_transaction(conn):
        for sku, quantity, at in conn.execute(query):
            if at > since[sku]:
                sold[sku] = sold.get(sku, 0) + int(quantity)
    return sold
