"""Channel jobs: submissions a channel processes later (Amazon feeds), tracked until done.

A feed is recorded the moment the channel accepts it, against the outbox batch it carries. If
the process dies before the outcome is read, the channel still processes the feed later, and
could then overwrite newer quantities; so the publisher settles every open job of a channel
(reads and records its outcome, or cancels it while the channel still allows) before anything
newer is planned for its listings.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit
from inventory_pipelines.ledger.db import is_postgresql, read_transaction, write_transaction
from inventory_pipelines.ledger.schema import channel_jobs, outbox


@dataclass(frozen=True)
class OpenJob:
    """A job the channel accepted and whose outcome is not recorded yet."""

    channel: str
    job_id: str
    batch_key: str
    listing_ids: tuple[str, ...]  # the listings its batch carries (still in flight)


def record(conn: Connection, channel: str, batch_key: str, job_id: str) -> None:
    """Remember that the channel accepted `job_id` for the outbox batch `batch_key`."""
    insert = (postgresql.insert if is_postgresql(conn) else sqlite.insert)(channel_jobs)
    statement = insert.values(
        channel=channel,
        batch_key=batch_key,
        job_id=job_id,
        status="open",
        submitted_at=audit.utcnow(),
    ).on_conflict_do_nothing(index_elements=[channel_jobs.c.channel, channel_jobs.c.job_id])
    with write_transaction(conn):
        conn.execute(statement)


def settle(
    conn: Connection, channel: str, job_id: str, outcome: str, *, status: str = "settled"
) -> None:
    """Close a job: its outcome was recorded (`settled`) or it was withdrawn (`cancelled`)."""
    with write_transaction(conn):
        conn.execute(
            channel_jobs.update()
            .where(channel_jobs.c.channel == channel, channel_jobs.c.job_id == job_id)
            .values(status=status, settled_at=audit.utcnow(), outcome=outcome)
        )


def settle_batch(conn: Connection, channel: str, batch_key: str, outcome: str) -> None:
    """Close every open job of a batch whose answer the publisher has just recorded."""
    with write_transaction(conn):
        conn.execute(
            channel_jobs.update()
            .where(
                channel_jobs.c.channel == channel,
                channel_jobs.c.batch_key == batch_key,
                channel_jobs.c.status == "open",
            )
            .values(status="settled", settled_at=audit.utcnow(), outcome=outcome)
        )


def open_jobs(conn: Connection, channel: str) -> list[OpenJob]:
    """The channel's open jobs, oldest first, with the listings their batches have in flight."""
    query = (
        sa.select(channel_jobs.c.job_id, channel_jobs.c.batch_key)
        .where(channel_jobs.c.channel == channel, channel_jobs.c.status == "open")
        .order_by(channel_jobs.c.id)
    )
    with read_transaction(conn):
        jobs = list(conn.execute(query))
        found = []
        for job_id, key in jobs:
            listings = conn.execute(
                sa.select(outbox.c.listing_id)
                .where(outbox.c.batch_key == key, outbox.c.status.in_(("pending", "sent")))
                .order_by(outbox.c.id)
            ).scalars()
            found.append(OpenJob(channel, job_id, key, tuple(listings)))
    return found
