"""Drift history: every drift observation kept, one Parquet partition per day (UTC).

`reconciliation/drift` holds each channel's latest drift only; here each run that measures
drift adds its rows to the partition of the day it observed them (`day`, `run_id` added), so
analysts can follow drift over a week in DuckDB (`reconciliation.drift_history` in
`warehouse.duckdb`: the catalog has a view over every partitioned table of the data plane). A
run measured again (a retried step) replaces its own rows; every other run's rows stay. A run
that found no drift still writes its day's partition, so a day without rows is a day without
drift, not a day without a measurement.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.reconciliation.drift import DRIFT_SCHEMA

HISTORY_KEY = ("reconciliation", "drift_history")
HISTORY_SCHEMA = {"day": pl.Date, "run_id": pl.Utf8, **DRIFT_SCHEMA}
HISTORY_ORDER = ["observed_at", "run_id", "channel", "cause", "sku", "listing_id"]


def history_rows(drift: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """The drift rows as history rows: the UTC day they were observed and the run."""
    return (
        drift.select(list(DRIFT_SCHEMA))
        .cast(DRIFT_SCHEMA)
        .with_columns(
            day=pl.col("observed_at").dt.convert_time_zone("UTC").dt.date(),
            run_id=pl.lit(run_id, dtype=pl.Utf8),
        )
        .select(list(HISTORY_SCHEMA))
    )


def append(
    store: TableStore, drift: pl.DataFrame, run_id: str, channels: Iterable[str], now: datetime
) -> dict[date, int]:
    """Add a run's drift of `channels` to the history; return the rows per day written.

    The day of `now` gets its partition even when nothing drifted.
    """
    rows = history_rows(drift, run_id)
    chosen = sorted(set(channels))
    days = sorted({now.date(), *rows["day"].to_list()})
    written: dict[date, int] = {}
    for day in days:
        fresh = rows.filter(pl.col("day") == day)

        def merged(current: pl.LazyFrame | None, fresh: pl.DataFrame = fresh) -> pl.DataFrame:
            if current is not None:
                kept = current.filter(
                    ~((pl.col("run_id") == run_id) & pl.col("channel").is_in(chosen))
                ).collect()
                fresh = pl.concat([kept.cast(HISTORY_SCHEMA), fresh], how="vertical_relaxed")
            return fresh.sort(HISTORY_ORDER, nulls_last=True)

        # read, merge and write with no other writer of the day in between (the store's lock,
        # or its conditional write on object storage): two runs of a day lose no rows
        store.update(HISTORY_KEY, merged, day.isoformat())
        written[day] = fresh.height
    return written


def drift_by_day_sql(table: str = "reconciliation.drift_history", days: int = 7) -> str:
    """A query of the last `days` days of drift per day, channel and cause: the SKUs (and
    unmapped listings) that drifted at least once that day, and the sum over them of the
    largest difference seen. Runs as is in `inventory-sync sql`."""
    return f"""
WITH per_sku AS (
    SELECT day, channel, cause, listing_id, sku, max(abs(difference)) AS units
    FROM {table}
    WHERE day > current_date - INTERVAL {int(days)} DAY
    GROUP BY ALL
)
SELECT day, channel, cause, count(*) AS drifting_skus, sum(units) AS drift_units
FROM per_sku
GROUP BY ALL
ORDER BY day, channel, cause
""".strip()
