"""Manual overrides and emergency stops, approved by a second person, audited at every step.

An override sets one SKU's quantity on one channel until a time; a stop zeroes every SKU that
matches a shell pattern on one channel or on all of them (`ALL_CHANNELS`). Both are
*requested* by one person and apply only once *approved* by another; a break-glass stop is
approved by its requester at once, with a mandatory reason and an audit action of its own
(`override.break_glass`). An override ends when it is *revoked* or when its time runs out
(*expired*). Only an approved override whose time has not run out applies (`active`).

Every step writes an audit row (entity `override/<id>`, before and after): `override.requested`,
`override.approved`, `override.break_glass`, `override.revoked`, `override.expired`, and
`override.refused` for an attempt that was refused (the requester approving their own
request, approving or revoking what has ended, a request the caller refused). A step that
runs in its own transaction commits its refusal before raising it, so the refusal is kept
even though nothing else changed (a caller's transaction decides for itself).

Actors are names the caller declares (the CLI takes `--actor`, `$INVENTORY_ACTOR` or the OS
user): the two-person rule holds against mistakes and leaves a trail, not against someone who
types another person's name.
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
from inventory_pipelines.ledger.schema import overrides

ALL_CHANNELS = "*"
#: the furthest an override may run: past that it is a rule, and belongs in the rule files
MAX_HORIZON = dt.timedelta(days=30)
QUANTITY = "quantity"
STOP = "stop"


class OverrideError(ValueError):
    """An override step that is refused; the message is one line a person can act on."""


@dataclass(frozen=True)
class Override:
    """One override as the ledger holds it."""

    id: int
    kind: str
    channel: str
    sku: str
    quantity: int
    reason: str
    expires_at: dt.datetime
    status: str
    break_glass: bool
    requested_by: str
    requested_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    ended_by: str | None
    ended_at: dt.datetime | None
    end_reason: str | None

    @property
    def entity(self) -> str:
        """Its entity in the audit log."""
        return f"override/{self.id}"

    def state_at(self, now: dt.datetime) -> str:
        """Its status at `now`: an open one whose time ran out is `expired` even before the
        ledger has recorded it."""
        if self.status in ("requested", "approved") and self.expires_at <= now:
            return "expired"
        return self.status

    def active_at(self, now: dt.datetime) -> bool:
        """Whether it applies at `now`: approved, and its time not run out."""
        return self.status == "approved" and self.expires_at > now

    def as_json(self) -> dict[str, Any]:
        """Every field, timestamps in ISO 8601 (what the audit log and `--json` show)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out


def _row(row: Any) -> Override:
    values = dict(row._mapping)
    values["break_glass"] = bool(values["break_glass"])
    return Override(**values)


def _check_expiry(expires_at: dt.datetime, now: dt.datetime) -> None:
    if expires_at.tzinfo is None:
        raise OverrideError(f"the end {expires_at.isoformat()} has no time zone")
    if expires_at <= now:
        raise OverrideError(
            f"the end {expires_at.isoformat()} is not in the future (now {now.isoformat()})"
        )
    if expires_at > now + MAX_HORIZON:
        raise OverrideError(
            f"the end {expires_at.isoformat()} is more than {MAX_HORIZON.days} days away: an "
            "override that long is a rule (policies.yml, suppressions.yml)"
        )


def _check_text(name: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise OverrideError(f"a {name} is required")
    return value


def request(
    conn: Connection,
    *,
    channel: str,
    sku: str,
    quantity: int,
    expires_at: dt.datetime,
    reason: str,
    actor: str,
    source: str = "cli",
    context: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Override:
    """Ask for `channel` to show `quantity` (its own unit) of `sku` until `expires_at`; it
    applies once another actor approves it. `context` goes into the audit row as it is."""
    now = now or audit.utcnow()
    if channel == ALL_CHANNELS:
        raise OverrideError("an override names one channel (only a stop takes every channel)")
    if quantity < 0:
        raise OverrideError(f"the quantity must be 0 or more, not {quantity}")
    return _insert(
        conn,
        kind=QUANTITY,
        channel=channel,
        sku=_check_text("SKU", sku),
        quantity=int(quantity),
        expires_at=expires_at,
        reason=reason,
        actor=actor,
        source=source,
        context=context,
        break_glass=False,
        now=now,
    )


def stop(
    conn: Connection,
    *,
    channel: str,
    pattern: str,
    expires_at: dt.datetime,
    reason: str,
    actor: str,
    break_glass: bool = False,
    source: str = "cli",
    context: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Override:
    """An emergency stop: every SKU matching `pattern` shows 0 on `channel` (`ALL_CHANNELS`:
    on every channel) until `expires_at`. Requested like an override; with `break_glass` it is
    approved by `actor` at once and audited as `override.break_glass`."""
    return _insert(
        conn,
        kind=STOP,
        channel=_check_text("channel", channel),
        sku=_check_text("SKU pattern", pattern),
        quantity=0,
        expires_at=expires_at,
        reason=reason,
        actor=actor,
        source=source,
        context=context,
        break_glass=break_glass,
        now=now or audit.utcnow(),
    )


def _insert(
    conn: Connection,
    *,
    kind: str,
    channel: str,
    sku: str,
    quantity: int,
    expires_at: dt.datetime,
    reason: str,
    actor: str,
    source: str,
    context: Mapping[str, Any] | None,
    break_glass: bool,
    now: dt.datetime,
) -> Override:
    actor = _check_text("actor", actor)
    reason = _check_text("reason", reason)
    _check_expiry(expires_at, now)
    values = {
        "kind": kind,
        "channel": channel,
        "sku": sku,
        "quantity": quantity,
        "reason": reason,
        "expires_at": expires_at,
        "status": "approved" if break_glass else "requested",
        "break_glass": break_glass,
        "requested_by": actor,
        "requested_at": now,
        "approved_by": actor if break_glass else None,
        "approved_at": now if break_glass else None,
    }
    with write_transaction(conn):
        new_id = conn.execute(
            overrides.insert().values(**values).returning(overrides.c.id)
        ).scalar_one()
        created = _get(conn, int(new_id))
        audit.record(
            conn,
            actor=actor,
            source=source,
            action="override.break_glass" if break_glass else "override.requested",
            entity=created.entity,
            after={**created.as_json(), **({"context": dict(context)} if context else {})},
            at=now,
        )
    return created


def approve(
    conn: Connection,
    override_id: int,
    *,
    actor: str,
    source: str = "cli",
    context: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Override:
    """Approve a requested override as `actor`, who must not be its requester; it applies from
    now. A refusal is audited (`override.refused`), then raised as :class:`OverrideError`."""
    now = now or audit.utcnow()
    actor = _check_text("actor", actor)
    with write_transaction(conn):
        before, problem = _load(conn, override_id)
        if before is not None:
            problem = _approval_problem(before, actor, now)
        if problem is None:
            after = _transition(
                conn,
                before,
                "approved",
                {"status": "approved", "approved_by": actor, "approved_at": now},
                actor=actor,
                source=source,
                context=context,
                now=now,
            )
        else:
            _record_refusal(conn, override_id, before, "approve", problem, actor, source, now)
    if problem is not None:
        raise OverrideError(problem)
    return after


def _approval_problem(override: Override, actor: str, now: dt.datetime) -> str | None:
    state = override.state_at(now)
    if state != "requested":
        ended = f" by {override.ended_by}" if state == "revoked" and override.ended_by else ""
        if state == "approved":
            return f"override #{override.id} is already approved (by {override.approved_by})"
        return f"override #{override.id} is {state}{ended}: nothing to approve"
    if actor == override.requested_by:
        return (
            f"override #{override.id} was requested by {override.requested_by}: it must be "
            "approved by someone else (--actor NAME, or $INVENTORY_ACTOR)"
        )
    return None


def revoke(
    conn: Connection,
    override_id: int,
    *,
    actor: str,
    reason: str,
    source: str = "cli",
    context: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Override:
    """End a requested or approved override now, with a reason; anyone may (ending an override
    hands the SKU back to the rules). Revoking what has already ended is refused and audited."""
    now = now or audit.utcnow()
    actor = _check_text("actor", actor)
    reason = _check_text("reason", reason)
    with write_transaction(conn):
        before, problem = _load(conn, override_id)
        if before is not None and before.state_at(now) not in ("requested", "approved"):
            problem = (
                f"override #{override_id} is already {before.state_at(now)}: nothing to revoke"
            )
        if problem is not None:
            _record_refusal(conn, override_id, before, "revoke", problem, actor, source, now)
        else:
            after = _transition(
                conn,
                before,
                "revoked",
                {"status": "revoked", "ended_by": actor, "ended_at": now, "end_reason": reason},
                actor=actor,
                source=source,
                context=context,
                now=now,
            )
    if problem is not None:
        raise OverrideError(problem)
    return after


def refuse(
    conn: Connection,
    *,
    attempt: str,
    problem: str,
    actor: str,
    details: Mapping[str, Any],
    source: str = "cli",
    now: dt.datetime | None = None,
) -> None:
    """Audit an attempt the caller refused before it reached an override (an unknown SKU or
    channel, an end in the past): entity `override/new`, the attempt's details as `after`."""
    audit.record(
        conn,
        actor=actor or "unknown",
        source=source,
        action="override.refused",
        entity="override/new",
        after={"attempt": attempt, "refused": problem, **details},
        at=now,
    )


def _load(conn: Connection, override_id: int) -> tuple[Override | None, str | None]:
    """The override, locked for the step (PostgreSQL), or None and why."""
    try:
        return _get(conn, override_id, lock=True), None
    except OverrideError as exc:
        return None, str(exc)


def _record_refusal(
    conn: Connection,
    override_id: int,
    override: Override | None,
    attempt: str,
    problem: str,
    actor: str,
    source: str,
    now: dt.datetime,
) -> None:
    audit.record(
        conn,
        actor=actor,
        source=source,
        action="override.refused",
        entity=f"override/{override_id}",
        before=override.as_json() if override is not None else None,
        after={"attempt": attempt, "refused": problem},
        at=now,
    )


def expire_due(
    conn: Connection, *, actor: str, source: str, now: dt.datetime | None = None
) -> list[Override]:
    """Record as expired every requested or approved override whose time ran out by `now`,
    each with an `override.expired` audit row (`actor`: what saw it, e.g. a sensor); the
    overrides it expired. Idempotent: whoever sees an expiry first records it, once."""
    now = now or audit.utcnow()
    due = sa.select(overrides.c.id).where(
        overrides.c.status.in_(("requested", "approved")), overrides.c.expires_at <= now
    )
    expired = []
    with write_transaction(conn):
        if is_postgresql(conn):
            due = due.with_for_update(skip_locked=True)
        for override_id in list(conn.execute(due.order_by(overrides.c.id)).scalars()):
            before = _get(conn, override_id)
            after = _transition(
                conn,
                before,
                "expired",
                {
                    "status": "expired",
                    "ended_by": actor,
                    "ended_at": before.expires_at,
                    "end_reason": "its time ran out",
                },
                actor=actor,
                source=source,
                now=now,
            )
            if after is not None:
                expired.append(after)
    return expired


def _transition(
    conn: Connection,
    before: Override,
    action: str,
    values: Mapping[str, Any],
    *,
    actor: str,
    source: str,
    now: dt.datetime,
    context: Mapping[str, Any] | None = None,
) -> Override | None:
    """Move an override out of requested/approved with `values`, re-read it and audit
    `override.<action>` (before and after); None when another writer moved it first."""
    changed = conn.execute(
        overrides.update()
        .where(
            overrides.c.id == before.id,
            overrides.c.status.in_(("requested", "approved")),
        )
        .values(**values)
    ).rowcount
    if not changed:
        return None
    after = _get(conn, before.id)
    audit.record(
        conn,
        actor=actor,
        source=source,
        action=f"override.{action}",
        entity=after.entity,
        before=before.as_json(),
        after={**after.as_json(), **({"context": dict(context)} if context else {})},
        at=now,
    )
    return after


def get(conn: Connection, override_id: int) -> Override:
    """One override; :class:`OverrideError` naming the id when there is none."""
    with read_transaction(conn):
        return _get(conn, override_id)


def _get(conn: Connection, override_id: int, *, lock: bool = False) -> Override:
    query = sa.select(overrides).where(overrides.c.id == override_id)
    if lock and is_postgresql(conn):
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise OverrideError(f"there is no override #{override_id} (inventory-sync override list)")
    return _row(row)


def listed(
    conn: Connection, *, now: dt.datetime | None = None, include_ended: bool = False
) -> list[Override]:
    """Requested and approved overrides whose time has not run out (every one with
    `include_ended`), oldest first."""
    now = now or audit.utcnow()
    query = sa.select(overrides).order_by(overrides.c.id)
    if not include_ended:
        query = query.where(
            overrides.c.status.in_(("requested", "approved")), overrides.c.expires_at > now
        )
    with read_transaction(conn):
        return [_row(row) for row in conn.execute(query)]


def active(conn: Connection, now: dt.datetime | None = None) -> list[Override]:
    """The overrides that apply at `now`: approved, their time not run out; oldest first."""
    now = now or audit.utcnow()
    query = (
        sa.select(overrides)
        .where(overrides.c.status == "approved", overrides.c.expires_at > now)
        .order_by(overrides.c.id)
    )
    with read_transaction(conn):
        return [_row(row) for row in conn.execute(query)]


def ran_out_between(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[Override]:
    """The overrides that applied until their time ran out in (`start`, `end`]: approved, not
    revoked before; whoever recorded the expiry (their SKUs go back to the rules then)."""
    query = (
        sa.select(overrides)
        .where(
            overrides.c.approved_at.is_not(None),
            overrides.c.status.in_(("approved", "expired")),
            overrides.c.expires_at > start,
            overrides.c.expires_at <= end,
        )
        .order_by(overrides.c.id)
    )
    with read_transaction(conn):
        return [_row(row) for row in conn.execute(query)]
