"""Each channel's circuit breaker, kept in the ledger so every run and process shares it.

A channel that keeps failing (down, timing out, refusing our credentials) is not called again
by anyone until its cool-down ends: the publisher's batches wait in the outbox (they keep
their attempts, so an outage dead-letters nothing) instead of each run spending its retries
on a channel known to be down. When the cool-down ends, one publisher (whichever checks
first) probes the channel with its next batch while the others wait; its answer closes the
circuit or opens it again for a longer cool-down (doubled each time, up to `MAX_COOLDOWN`).

    closed --(FAILURES_TO_OPEN failures in a row)--> open --(retry_at passed)--> half_open
    half_open --(the probe succeeds)--> closed;  half_open --(the probe fails)--> open

Only failures of the channel itself count (`ChannelUnavailableError`, `ChannelAuthError`):
throttling is paced, and an item the channel refuses says nothing about the channel. The
state is one row per channel (`channel_circuits`); opening and closing are audited
(`circuit.opened`, `circuit.closed`), and `inventory-sync status` shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import channel_circuits

FAILURES_TO_OPEN = 3
COOLDOWN = dt.timedelta(seconds=30)
MAX_COOLDOWN = dt.timedelta(minutes=15)
#: how long a probe may take before another publisher may probe instead (a crashed prober)
PROBE_TIMEOUT = dt.timedelta(minutes=2)
_ERROR_CHARS = 500


@dataclass(frozen=True)
class Circuit:
    """A channel's circuit as the ledger holds it, and whether the caller may call now."""

    channel: str
    state: str = "closed"
    failures: int = 0
    opened: int = 0
    opened_at: dt.datetime | None = None
    retry_at: dt.datetime | None = None
    last_error: str | None = None
    allows: bool = True

    @property
    def clean(self) -> bool:
        """Closed with no failure counted: a success has nothing to reset."""
        return self.state == "closed" and self.failures == 0

    def describe(self) -> str:
        """One line for an operator: the state, since when, until when, and why."""
        if self.state == "closed":
            return "closed" + (f" ({self.failures} failure(s) in a row)" if self.failures else "")
        since = self.opened_at.isoformat(timespec="seconds") if self.opened_at else "?"
        until = self.retry_at.isoformat(timespec="seconds") if self.retry_at else "?"
        verb = "probing until" if self.state == "half_open" else "next probe at"
        return (
            f"{self.state.replace('_', '-')} since {since} after {self.failures} failure(s) "
            f"in a row ({verb} {until}): {self.last_error or 'no error recorded'}"
        )


def _circuit(row: sa.Row | None, channel: str, *, allows: bool = True) -> Circuit:
    if row is None:
        return Circuit(channel, allows=allows)
    return Circuit(
        channel=row.channel,
        state=row.state,
        failures=row.failures,
        opened=row.opened,
        opened_at=row.opened_at,
        retry_at=row.retry_at,
        last_error=row.last_error,
        allows=allows,
    )


def _locked(conn: Connection, channel: str) -> sa.Row | None:
    query = sa.select(channel_circuits).where(channel_circuits.c.channel == channel)
    if is_postgresql(conn):
        query = query.with_for_update()
    return conn.execute(query).first()


def _save(conn: Connection, channel: str, exists: bool, **values: object) -> None:
    values["updated_at"] = audit.utcnow()
    if exists:
        conn.execute(
            channel_circuits.update().where(channel_circuits.c.channel == channel).values(values)
        )
    else:
        conn.execute(channel_circuits.insert().values(channel=channel, **values))


def get(conn: Connection, channel: str) -> Circuit:
    """The channel's circuit (closed when nothing was ever recorded), without claiming a probe."""
    with read_transaction(conn):
        row = conn.execute(
            sa.select(channel_circuits).where(channel_circuits.c.channel == channel)
        ).first()
    return _circuit(row, channel)


def all_circuits(conn: Connection) -> dict[str, Circuit]:
    """Every channel's recorded circuit, by channel."""
    with read_transaction(conn):
        rows = conn.execute(sa.select(channel_circuits)).all()
    return {row.channel: _circuit(row, row.channel) for row in rows}


def check(conn: Connection, channel: str, now: dt.datetime | None = None) -> Circuit:
    """May the caller call `channel` now? `allows` says; an open circuit whose cool-down has
    ended lets exactly one caller through as its probe (it turns half-open until the probe
    answers or `PROBE_TIMEOUT` passes)."""
    now = now or audit.utcnow()
    with write_transaction(conn):
        row = _locked(conn, channel)
        if row is None or row.state == "closed":
            return _circuit(row, channel)
        if row.retry_at is not None and now < row.retry_at:
            return _circuit(row, channel, allows=False)
        _save(conn, channel, True, state="half_open", retry_at=now + PROBE_TIMEOUT)
        row = _locked(conn, channel)
    return _circuit(row, channel)


def record_success(conn: Connection, channel: str, *, actor: str = "publisher") -> None:
    """The channel answered: close its circuit and forget the failures."""
    with write_transaction(conn):
        row = _locked(conn, channel)
        if row is None or (row.state == "closed" and row.failures == 0):
            return
        _save(conn, channel, True, state="closed", failures=0, opened=0, retry_at=None)
        if row.state != "closed":
            audit.record(
                conn,
                actor=actor,
                source=channel,
                action="circuit.closed",
                entity=f"channel/{channel}",
                before={"state": row.state, "failures": row.failures},
                after={"state": "closed"},
            )


def record_failure(
    conn: Connection,
    channel: str,
    error: str,
    *,
    now: dt.datetime | None = None,
    actor: str = "publisher",
) -> Circuit:
    """The channel failed a call: count it, and open the circuit at `FAILURES_TO_OPEN` in a row
    (or at once when the failed call was the probe). Returns the circuit after."""
    now = now or audit.utcnow()
    error = error[:_ERROR_CHARS]
    with write_transaction(conn):
        row = _locked(conn, channel)
        failures = (row.failures if row else 0) + 1
        probing = row is not None and row.state == "half_open"
        if row is not None and row.state == "open":
            _save(conn, channel, True, failures=failures, last_error=error)
        elif probing or failures >= FAILURES_TO_OPEN:
            opened = (row.opened if row else 0) + 1
            cooldown = min(MAX_COOLDOWN, COOLDOWN * 2 ** (opened - 1))
            _save(
                conn,
                channel,
                row is not None,
                state="open",
                failures=failures,
                opened=opened,
                opened_at=now,
                retry_at=now + cooldown,
                last_error=error,
            )
            audit.record(
                conn,
                actor=actor,
                source=channel,
                action="circuit.opened",
                entity=f"channel/{channel}",
                before={"state": row.state if row else "closed", "failures": failures - 1},
                after={
                    "state": "open",
                    "failures": failures,
                    "retry_at": (now + cooldown).isoformat(),
                    "error": error,
                },
            )
        else:
            _save(conn, channel, row is not None, state="closed", failures=failures,
                  last_error=error)  # fmt: skip
        row = _locked(conn, channel)
    return _circuit(row, channel, allows=row.state == "closed")
