"""The drift history: one Parquet partition per day, each run's rows kept, a week in DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from inventory_pipelines.dataplane import TableStore, query, rebuild_catalog
from inventory_pipelines.reconciliation import DRIFT_SCHEMA, history


def drift_rows(at: datetime, *rows: tuple[str, str, str, int, int, str]) -> pl.DataFrame:
    """(channel, sku, listing_id, expected, actual, cause) observed at `at`."""
    return pl.DataFrame(
        [
            {
                "channel": c,
                "sku": s,
                "listing_id": x,
                "expected": e,
                "actual": a,
                "difference": a - e,
                "cause": cause,
                "acknowledged": None,
                "detail": "",
                "observed_at": at,
            }
            for c, s, x, e, a, cause in rows
        ],
        schema=DRIFT_SCHEMA,
    )


def test_each_run_adds_its_rows_to_the_partition_of_its_day_and_a_retry_replaces_them(tmp_path):
    store = TableStore(tmp_path)
    day = datetime(2026, 3, 2, 2, tzinfo=UTC)
    first = drift_rows(day, ("shop", "A", "L-A", 5, 7, "channel_edit"))
    history.append(store, first, "run-1", ["shop"], day)
    second = drift_rows(
        day + timedelta(hours=8),
        ("shop", "B", "L-B", 5, 4, "missed_update"),
        ("woo", "A", "W-A", 3, 0, "missed_update"),
    )
    history.append(store, second, "run-2", ["shop", "woo"], day + timedelta(hours=8))
    history.append(store, second.head(1), "run-2", ["shop", "woo"], day + timedelta(hours=8))

    stored = store.read(history.HISTORY_KEY, "2026-03-02")
    assert stored.select("run_id", "channel", "sku").rows() == [
        ("run-1", "shop", "A"),
        ("run-2", "shop", "B"),
    ]
    assert set(stored["day"]) == {day.date()}
    assert [p.name for p in store.path(history.HISTORY_KEY, "x").parent.glob("*.parquet")] == [
        "2026-03-02.parquet"
    ]


def test_a_run_without_drift_still_writes_its_day(tmp_path):
    store = TableStore(tmp_path)
    now = datetime(2026, 3, 5, 2, tzinfo=UTC)
    written = history.append(store, drift_rows(now), "run-1", ["shop"], now)
    assert written == {now.date(): 0}
    assert store.read(history.HISTORY_KEY, "2026-03-05").is_empty()


def test_analysts_follow_a_week_of_drift_in_duckdb(tmp_path):
    store = TableStore(tmp_path / "tables")
    today = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    for back in range(9):  # nine nights: the query keeps the last seven days
        at = today - timedelta(days=back)
        rows = [
            ("shop", f"SKU-{i}", f"L-{i}", 10, 10 - i - 1, "missed_update") for i in range(back)
        ]
        rows.append(("woo", "SKU-0", "W-0", 5, 9, "channel_edit"))
        history.append(store, drift_rows(at, *rows), f"night-{back}", ["shop", "woo"], at)
    # a second run on the last day sees one of the same SKUs again: counted once that day
    history.append(
        store,
        drift_rows(today, ("woo", "SKU-0", "W-0", 5, 8, "channel_edit")),
        "morning",
        ["woo"],
        today,
    )
    catalog = tmp_path / "warehouse.duckdb"
    assert "reconciliation.drift_history" in rebuild_catalog(store, catalog)

    week = query(catalog, history.drift_by_day_sql(days=7), tables_dir=tmp_path / "tables")
    days = sorted(set(week["day"]))
    assert len(days) == 7 and days[-1] == today.date()
    shop = {r["day"]: r for r in week.filter(pl.col("channel") == "shop").to_dicts()}
    woo = {r["day"]: r for r in week.filter(pl.col("channel") == "woo").to_dicts()}
    for back in range(1, 7):
        day = (today - timedelta(days=back)).date()
        assert shop[day]["drifting_skus"] == back
        assert shop[day]["drift_units"] == sum(i + 1 for i in range(back))
    assert today.date() not in shop  # nothing drifted on the shop today
    assert woo[today.date()]["drifting_skus"] == 1 and woo[today.date()]["drift_units"] == 4
