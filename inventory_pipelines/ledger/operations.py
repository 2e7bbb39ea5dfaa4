"""What an operator asks the ledger: each channel at a glance, a publish round's progress, and
the audit log searched.

Read only. `channel_facts` gathers per channel what the other modules keep (the last
acknowledged publish, the updates still waiting, open dead letters, orders waiting in the
inbox, channel jobs not finished, the last error recorded); `round_progress` counts how much
of a publish round is settled, for a progress display; `search_audit` filters the audit log,
newest first. Audit rows come back as stored: `audit.record` refuses keys that name a
credential, so there is nothing to unmask.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import read_transaction
from inventory_pipelines.ledger.overrides import ALL_CHANNELS
from inventory_pipelines.ledger.schema import (
    audit_log,
    channel_jobs,
    dead_letters,
    order_inbox,
    outbox,
    published_state,
)

#: outbox rows still to be sent or answered (the outbox's own definition of waiting)
WAITING = ("pending", "sent", "failed")
#: inbox rows not in Odoo yet: stored and not taken, or taken and not finished
ORDERS_WAITING = ("new", "claimed")
#: outbox rows whose error is a failure of their channel, not a stale compare
FAILED = ("failed", "dead", "rejected")


@dataclass(frozen=True)
class LastError:
    """The newest failure the ledger recorded for a channel: when, where, and its message."""

    at: dt.datetime
    where: str  # "outbox" (an update's last error) or "dead_letter" (a parked order's)
    error: str


@dataclass(frozen=True)
class ChannelFacts:
    """One channel as the ledger knows it."""

    channel: str
    last_acknowledged_at: dt.datetime | None  # the newest update the channel acknowledged
    listings_acknowledged: int  # listings with an acknowledged quantity
    updates_waiting: int  # outbox rows pending, sent without an answer, or failed
    oldest_waiting_at: dt.datetime | None
    dead_letters: dict[str, int]  # open letters by kind ("publish", "order")
    oldest_dead_letter_at: dt.datetime | None
    orders: dict[str, int]  # inbox rows by status
    open_jobs: int  # submissions the channel has not finished (Amazon feeds)
    oldest_open_job_at: dt.datetime | None
    last_error: LastError | None


def channel_facts(conn: Connection, channels: Sequence[str]) -> dict[str, ChannelFacts]:
    """The facts of each of `channels` (every one, also those the ledger never heard of)."""
    names = list(channels)
    with read_transaction(conn):
        acknowledged = _by_channel(
            conn,
            sa.select(outbox.c.channel, sa.func.max(outbox.c.acknowledged_at))
            .where(outbox.c.channel.in_(names), outbox.c.status == "acknowledged")
            .group_by(outbox.c.channel),
        )
        listings = _by_channel(
            conn,
            sa.select(published_state.c.channel, sa.func.count())
            .where(published_state.c.channel.in_(names))
            .group_by(published_state.c.channel),
        )
        waiting = {
            channel: (int(n), at)
            for channel, n, at in conn.execute(
                sa.select(outbox.c.channel, sa.func.count(), sa.func.min(outbox.c.created_at))
                .where(outbox.c.channel.in_(names), outbox.c.status.in_(WAITING))
                .group_by(outbox.c.channel)
            )
        }
        letters: dict[str, dict[str, int]] = {}
        oldest_letter: dict[str, dt.datetime] = {}
        for channel, kind, n, at in conn.execute(
            sa.select(
                dead_letters.c.channel,
                dead_letters.c.kind,
                sa.func.count(),
                sa.func.min(dead_letters.c.created_at),
            )
            .where(dead_letters.c.channel.in_(names), dead_letters.c.status == "open")
            .group_by(dead_letters.c.channel, dead_letters.c.kind)
        ):
            letters.setdefault(channel, {})[kind] = int(n)
            oldest_letter[channel] = min(at, oldest_letter.get(channel, at))
        orders: dict[str, dict[str, int]] = {}
        for channel, status, n in conn.execute(
            sa.select(order_inbox.c.channel, order_inbox.c.status, sa.func.count())
            .where(order_inbox.c.channel.in_(names))
            .group_by(order_inbox.c.channel, order_inbox.c.status)
        ):
            orders.setdefault(channel, {})[status] = int(n)
        jobs = {
            channel: (int(n), at)
            for channel, n, at in conn.execute(
                sa.select(
                    channel_jobs.c.channel,
                    sa.func.count(),
                    sa.func.min(channel_jobs.c.submitted_at),
                )
                .where(channel_jobs.c.channel.in_(names), channel_jobs.c.status == "open")
                .group_by(channel_jobs.c.channel)
            )
        }
        errors = {channel: _last_error(conn, channel) for channel in names}
    return {
        channel: ChannelFacts(
            channel=channel,
            last_acknowledged_at=acknowledged.get(channel),
            listings_acknowledged=int(listings.get(channel, 0)),
            updates_waiting=waiting.get(channel, (0, None))[0],
            oldest_waiting_at=waiting.get(channel, (0, None))[1],
            dead_letters=letters.get(channel, {}),
            oldest_dead_letter_at=oldest_letter.get(channel),
            orders=orders.get(channel, {}),
            open_jobs=jobs.get(channel, (0, None))[0],
            oldest_open_job_at=jobs.get(channel, (0, None))[1],
            last_error=errors[channel],
        )
        for channel in names
    }


def _by_channel(conn: Connection, query: sa.Select[Any]) -> dict[str, Any]:
    return {channel: value for channel, value in conn.execute(query)}


def _last_error(conn: Connection, channel: str) -> LastError | None:
    """The newer of the channel's last failed update (a publish dead letter only sums its
    updates up: their own errors say more) and its last parked order (any status)."""
    at = sa.func.coalesce(outbox.c.sent_at, outbox.c.created_at)
    update = conn.execute(
        sa.select(at, outbox.c.last_error)
        .where(
            outbox.c.channel == channel,
            outbox.c.status.in_(FAILED),
            outbox.c.last_error.is_not(None),
        )
        .order_by(at.desc())
        .limit(1)
    ).first()
    letter = conn.execute(
        sa.select(dead_letters.c.created_at, dead_letters.c.error)
        .where(dead_letters.c.channel == channel, dead_letters.c.kind == "order")
        .order_by(dead_letters.c.created_at.desc())
        .limit(1)
    ).first()
    found = [
        LastError(row[0], where, row[1])
        for row, where in ((update, "outbox"), (letter, "dead_letter"))
        if row is not None
    ]
    return max(found, key=lambda e: e.at) if found else None


def round_progress(conn: Connection, round_id: str) -> dict[str, tuple[int, int]]:
    """Per channel, (settled, total) outbox rows of a publish round and of its re-plans: a
    row is settled once it is no longer waiting (acknowledged, stale, dead, superseded...)."""
    query = (
        sa.select(
            outbox.c.channel,
            sa.func.count(),
            sa.func.count().filter(outbox.c.status.not_in(WAITING)),
        )
        .where(sa.or_(outbox.c.round_id == round_id, outbox.c.round_id.like(f"{round_id}:%")))
        .group_by(outbox.c.channel)
    )
    with read_transaction(conn):
        return {channel: (int(done), int(total)) for channel, total, done in conn.execute(query)}


def last_failed_runs(conn: Connection, limit: int = 5) -> list[audit.AuditEntry]:
    """The newest `run.failed` audit rows (written by the run failure sensor), newest first."""
    return search_audit(conn, action="run.failed", limit=limit)


def search_audit(
    conn: Connection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    channel: str | None = None,
    channel_ranges: Sequence[tuple[str, str]] = (),
    sku: str | None = None,
    limit: int = 50,
) -> list[audit.AuditEntry]:
    """Audit rows, newest (last written) first, at or after `since` and at or before `until`.

    `actor` matches exactly; `action` exactly, or as a pattern where `*` stands for anything
    (`dead_letter.*`). `channel` keeps the rows about that channel: its source, the published
    state of its listings, a before or after naming it or every channel (`"channel": ...`, a
    failed run's `partition`), and failed runs whose partition range is one of `channel_ranges` (the
    (first, last) pairs of channel names the caller knows to contain it). `sku` keeps the rows
    naming the SKU in their before or after, and those about a listing that carries it.
    """
    query = sa.select(audit_log)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at <= until)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(_matches(audit_log.c.action, action))
    if channel is not None:
        query = query.where(_about_channel(channel, channel_ranges))
    if sku is not None:
        query = query.where(_about_sku(sku))
    # newest first in the order the rows were written: the primary key, read backwards, finds
    # the newest rows without sorting the whole log (`at` has no index)
    query = query.order_by(audit_log.c.id.desc()).limit(limit)
    with read_transaction(conn):
        return [audit.AuditEntry(**row._mapping) for row in conn.execute(query)]


def _matches(column: sa.ColumnElement[str], pattern: str) -> sa.ColumnElement[bool]:
    if "*" not in pattern:
        return column == pattern
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped.replace("*", "%"), escape="\\")


def _json_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """The JSON column as the text it is stored as (compact, keys sorted)."""
    return sa.type_coerce(column, sa.Text)


def _names(key: str, value: Any) -> sa.ColumnElement[bool]:
    """A before or after that holds `"key": value` at any depth."""
    needle = f'"{key}":{orjson.dumps(value).decode()}'
    return sa.or_(
        _json_text(audit_log.c.before).contains(needle, autoescape=True),
        _json_text(audit_log.c.after).contains(needle, autoescape=True),
    )


def _about_channel(channel: str, ranges: Sequence[tuple[str, str]]) -> sa.ColumnElement[bool]:
    conditions = [
        audit_log.c.source == channel,
        audit_log.c.entity.startswith(f"published_state/{channel}/", autoescape=True),
        _names("channel", channel),
        _names("channel", ALL_CHANNELS),  # an emergency stop on every channel
        _names("partition", channel),
    ]
    conditions += [_names("channels", list(pair)) for pair in ranges]
    return sa.or_(*conditions)


def _about_sku(sku: str) -> sa.ColumnElement[bool]:
    def entities(table: sa.Table) -> sa.Select[Any]:
        return sa.select(
            sa.literal("published_state/") + table.c.channel + sa.literal("/") + table.c.listing_id
        ).where(table.c.sku == sku)

    return sa.or_(
        _names("sku", sku),
        audit_log.c.entity.in_(sa.union(entities(published_state), entities(outbox))),
    )
