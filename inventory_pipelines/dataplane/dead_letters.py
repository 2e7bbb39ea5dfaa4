"""The ledger's dead letters as a table of the data plane, for the analysts' catalog.

Dead letters live in the ledger (SQLite or PostgreSQL), which the catalog cannot read without a
DuckDB extension this machine cannot download (and which would tie analysts' files to the
ledger's database). So the runs that make or settle dead letters (publishing, order polling
and ingestion) and `inventory-sync catalog rebuild` export them to `ledger/dead_letters`: every
letter, open or closed, without its payload (order payloads carry buyers' names and e-mails)
and with the first line of its error only. The catalog shows it as `ledger.dead_letters`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.dataplane.store import TableStore
from inventory_pipelines.ledger.db import read_transaction
from inventory_pipelines.ledger.schema import dead_letters

DEAD_LETTERS = ("ledger", "dead_letters")
#: longest error line kept: enough for what went wrong, not a dump of a response body
ERROR_CHARS = 200

SCHEMA = {
    "id": pl.Int64,
    "channel": pl.Utf8,
    "kind": pl.Utf8,
    "status": pl.Utf8,
    "error": pl.Utf8,
    "correlation_id": pl.Utf8,
    "created_at": pl.Datetime("us", "UTC"),
    "replayed_at": pl.Datetime("us", "UTC"),
    "exported_at": pl.Datetime("us", "UTC"),
}


def dead_letter_frame(conn: Connection, now: datetime | None = None) -> pl.DataFrame:
    """Every dead letter of the ledger, oldest first, as `SCHEMA` (no payload)."""
    columns = dead_letters.c
    with read_transaction(conn):
        rows = conn.execute(
            sa.select(
                columns.id,
                columns.channel,
                columns.kind,
                columns.status,
                columns.error,
                columns.correlation_id,
                columns.created_at,
                columns.replayed_at,
            ).order_by(columns.id)
        ).all()
    exported_at = now or datetime.now(UTC)
    return pl.DataFrame(
        [
            {
                "id": row.id,
                "channel": row.channel,
                "kind": row.kind,
                "status": row.status,
                "error": (row.error or "").strip().split("\n", 1)[0][:ERROR_CHARS],
                "correlation_id": row.correlation_id,
                "created_at": row.created_at,
                "replayed_at": row.replayed_at,
                "exported_at": exported_at,
            }
            for row in rows
        ],
        schema=SCHEMA,
    )


def export_dead_letters(store: TableStore, conn: Connection) -> int:
    """Write the ledger's dead letters to `ledger/dead_letters`; return how many there are.

    The ledger is read under the table's lock (or conditional write), so of two exports the one
    written last read the ledger last.
    """
    written = store.update(DEAD_LETTERS, lambda _current: dead_letter_frame(conn))
    return written.height
