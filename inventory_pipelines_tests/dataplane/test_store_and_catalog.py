"""The Parquet data plane and the analysts' DuckDB catalog."""

from __future__ import annotations

import threading

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore, query, rebuild_catalog, refresh_catalog
from inventory_pipelines.dataplane.catalog import views_root

KEY = ("inventory", "canonical_inventory")


def frame(skus: list[str], qty: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"sku": skus, "warehouse": ["MAIN"] * len(skus), "available": qty},
        schema={"sku": pl.Utf8, "warehouse": pl.Utf8, "available": pl.Float64},
    )


def test_a_partial_write_replaces_only_the_subset_and_keeps_the_table_order(tmp_path):
    store = TableStore(tmp_path)
    store.write(KEY, frame(["A", "B", "C"], [1, 2, 3]), sort_by=["sku"])
    store.write(KEY, frame(["B"], [20]), replace_skus=["B", "Z"], sort_by=["sku"])
    assert store.read(KEY).rows() == [("A", "MAIN", 1.0), ("B", "MAIN", 20.0), ("C", "MAIN", 3.0)]


def test_a_sku_of_the_subset_that_no_longer_exists_is_removed(tmp_path):
    store = TableStore(tmp_path)
    store.write(KEY, frame(["A", "B"], [1, 2]))
    store.write(KEY, frame([], []), replace_skus=["B"])
    assert store.read(KEY)["sku"].to_list() == ["A"]


def test_a_partial_write_over_a_table_of_an_older_schema_takes_the_new_columns(tmp_path):
    """A table written before a column was added (or after one was dropped): a SKU-subset
    write keeps the other SKUs, with nulls in the new column, and drops the old column."""
    store = TableStore(tmp_path)
    old = frame(["A", "B"], [1, 2]).with_columns(retired=pl.lit("x"))
    store.write(KEY, old, sort_by=["sku"])
    new = frame(["B"], [20]).with_columns(own=pl.lit(20.0))
    store.write(KEY, new, replace_skus=["B"], sort_by=["sku"])
    assert store.read(KEY).rows() == [("A", "MAIN", 1.0, None), ("B", "MAIN", 20.0, 20.0)]
    assert store.read(KEY).columns == ["sku", "warehouse", "available", "own"]


def test_reading_a_subset_returns_only_its_rows(tmp_path):
    store = TableStore(tmp_path)
    store.write(KEY, frame(["A", "B", "C"], [1, 2, 3]))
    assert store.read(KEY, skus=["C", "A"]).sort("sku")["sku"].to_list() == ["A", "C"]


def test_a_failed_write_leaves_the_previous_table_intact(tmp_path):
    store = TableStore(tmp_path)
    store.write(KEY, frame(["A"], [1]))
    with pytest.raises((TypeError, ValueError, pl.exceptions.PolarsError)):
        store.write(KEY, pl.DataFrame({"sku": ["B"], "bad": [object()]}))
    assert store.read(KEY)["sku"].to_list() == ["A"]
    assert [p.name for p in store.path(KEY).parent.iterdir()] == ["canonical_inventory.parquet"]


def test_reading_a_table_never_written_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="has not been materialized yet"):
        TableStore(tmp_path).read(KEY)


def test_the_catalog_has_a_view_per_table_and_partitions_read_as_one(tmp_path):
    store = TableStore(tmp_path / "tables")
    store.write(KEY, frame(["A"], [1]))
    store.write(("inventory", "channel_allocation"), pl.DataFrame({"channel": ["shop"]}), "shop")
    store.write(("inventory", "channel_allocation"), pl.DataFrame({"channel": ["amz"]}), "amz")
    catalog = tmp_path / "warehouse.duckdb"
    assert rebuild_catalog(store, catalog) == [
        "inventory.canonical_inventory",
        "inventory.channel_allocation",
    ]  # and no analytics view: that canonical inventory lacks the columns it reads
    got = query(catalog, "SELECT channel FROM inventory.channel_allocation ORDER BY 1")
    assert got["channel"].to_list() == ["amz", "shop"]


def test_an_open_analyst_connection_does_not_block_a_rebuild(tmp_path):
    store = TableStore(tmp_path / "tables")
    store.write(KEY, frame(["A"], [1]))
    catalog = tmp_path / "warehouse.duckdb"
    rebuild_catalog(store, catalog)
    analyst = duckdb.connect(
        str(catalog), read_only=True, config={"file_search_path": str(views_root(catalog))}
    )
    try:
        store.write(("odoo", "products"), pl.DataFrame({"sku": ["A"]}))
        done = threading.Event()
        worker = threading.Thread(target=lambda: (rebuild_catalog(store, catalog), done.set()))
        worker.start()
        worker.join(timeout=10)
        assert done.is_set(), "the rebuild waited on the analyst's connection"
        assert analyst.execute("SELECT count(*) FROM inventory.canonical_inventory").fetchone() == (
            1,
        )
    finally:
        analyst.close()
    assert query(catalog, "SELECT sku FROM odoo.products")["sku"].to_list() == ["A"]


def test_sql_command_prints_the_result_and_reports_bad_sql(tmp_path, monkeypatch):
    store = TableStore(tmp_path / "tables")
    store.write(KEY, frame(["A", "B"], [1, 2]))
    rebuild_catalog(store, tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    runner = CliRunner()
    ok = runner.invoke(
        main, ["sql", "SELECT sku, available FROM inventory.canonical_inventory", "--format", "csv"]
    )
    assert ok.exit_code == 0, ok.output
    assert ok.output == "sku,available\nA,1.0\nB,2.0\n"
    bad = runner.invoke(main, ["sql", "SELECT nope FROM inventory.canonical_inventory"])
    assert bad.exit_code == 1
    assert "nope" in bad.output


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("COPY (SELECT 1 AS sku) TO '{tables}/inventory/canonical_inventory.parquet'", "COPY"),
        ("ATTACH '{root}/other.duckdb' AS other", "ATTACH"),
        ("INSTALL httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("CREATE TABLE t AS SELECT 1", "CREATE"),
        ("SELECT * FROM read_csv('{root}/secret.csv')", "Permission"),
        ("SELECT * FROM read_text('/etc/hostname')", "Permission"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
        ("", "the SQL statement is empty"),
    ],
)
@pytest.mark.bad_input
def test_the_analysts_sql_can_neither_write_nor_read_outside_the_tables(
    tmp_path, monkeypatch, statement, why
):
    store = TableStore(tmp_path / "tables")
    store.write(KEY, frame(["A"], [1]))
    rebuild_catalog(store, tmp_path / "warehouse.duckdb")
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    before = store.path(KEY).read_bytes()
    sql = statement.format(tables=tmp_path / "tables", root=tmp_path)
    refused = CliRunner().invoke(main, ["sql", sql])
    assert refused.exit_code == 1, refused.output
    assert why in refused.output
    assert "hunter2" not in refused.output
    assert store.path(KEY).read_bytes() == before  # the published allocation cannot be forged
    assert not (tmp_path / "other.duckdb").exists()
    ok = CliRunner().invoke(
        main, ["sql", "SELECT count(*) AS n FROM inventory.canonical_inventory"]
    )
    assert ok.exit_code == 0 and "1" in ok.output


def test_a_table_rewritten_in_place_needs_no_new_catalog_a_new_table_does(tmp_path):
    store = TableStore(tmp_path / "tables")
    catalog = tmp_path / "warehouse.duckdb"
    store.write(KEY, frame(["A"], [1]))
    assert refresh_catalog(store, catalog)  # none yet
    store.write(KEY, frame(["A", "B"], [1, 2]))
    assert not refresh_catalog(store, catalog)  # the view reads the file by name
    assert query(catalog, f"SELECT count(*) AS n FROM {'.'.join(KEY)}")["n"].item() == 2
    store.write(
        ("inventory", "channel_allocation"),
        frame(["A"], [1]).with_columns(channel=pl.lit("shop")),
        "shop",
    )
    assert refresh_catalog(store, catalog)  # a new table: a new view
    assert query(catalog, "SELECT channel FROM inventory.channel_allocation")[
        "channel"
    ].to_list() == ["shop"]
    store.write(
        ("inventory", "channel_allocation"),
        frame(["B"], [1]).with_columns(channel=pl.lit("amz")),
        "amz",
    )
    assert not refresh_catalog(store, catalog)  # a new partition: the view's glob finds it
    got = query(catalog, "SELECT channel FROM inventory.channel_allocation ORDER BY 1")
    assert got["channel"].to_list() == ["amz", "shop"]
    catalog.unlink()
    assert refresh_catalog(store, catalog)  # lost: made again
