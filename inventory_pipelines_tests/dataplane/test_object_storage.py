"""The data plane on object storage (`INVENTORY_DATA_URI=s3://bucket/prefix`), against moto's S3
server: the same tables, the same upserts, writers on many machines, the analysts' catalog."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore, query, rebuild_catalog
from inventory_pipelines.dataplane.objects import ObjectStoreConfigError
from inventory_pipelines.dataplane.store import ObjectTableStore
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, ParquetIOManager, SkuScope
from inventory_pipelines.defs.odoo.assets import locations, products, stock_quants
from inventory_pipelines.reconciliation import DRIFT_SCHEMA, history
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

KEY = ("inventory", "stock")
SCHEMA = {"sku": pl.Utf8, "warehouse": pl.Utf8, "available": pl.Float64}
DUCKDB_CLI = Path(sys.executable).parent / "duckdb"


def rows(skus: list[str], value: float) -> pl.DataFrame:
    return pl.DataFrame(
        {"sku": skus, "warehouse": ["MAIN"] * len(skus), "available": [value] * len(skus)},
        schema=SCHEMA,
    )


def test_an_s3_base_gives_a_store_on_object_storage(s3_data_uri):
    store = TableStore(s3_data_uri)
    assert isinstance(store, ObjectTableStore)
    assert store.uri(KEY, "shop") == f"{s3_data_uri}/inventory/stock/shop.parquet"
    assert not store.exists(KEY)
    with pytest.raises(FileNotFoundError, match="has not been materialized yet"):
        store.read(KEY)


def test_a_sku_subset_upsert_replaces_only_its_rows(s3_data_uri):
    store = TableStore(s3_data_uri)
    store.write(KEY, rows(["A", "B", "C"], 1.0), sort_by=["sku"])
    store.write(KEY, rows(["B"], 20.0), replace_skus=["B", "Z"], sort_by=["sku"])
    assert store.read(KEY).rows() == [("A", "MAIN", 1.0), ("B", "MAIN", 20.0), ("C", "MAIN", 1.0)]
    assert store.read(KEY, skus=["C"]).rows() == [("C", "MAIN", 1.0)]
    assert store.tables() == [(KEY, False)]


def test_a_write_that_lost_the_race_merges_into_the_other_writers_table(s3_data_uri):
    ours, theirs = TableStore(s3_data_uri), TableStore(s3_data_uri)  # two machines
    ours.write(KEY, rows(["A", "B"], 0.0), sort_by=["sku"])
    seen: list[list[str]] = []

    def change(current: pl.LazyFrame | None) -> pl.DataFrame:
        assert current is not None
        table = current.collect()
        seen.append(table["sku"].to_list())
        if len(seen) == 1:  # the other writer upserts between our read and our write
            theirs.write(KEY, rows(["B"], 2.0), replace_skus=["B"], sort_by=["sku"])
        return pl.concat([table.filter(pl.col("sku") != "A"), rows(["A"], 1.0)]).sort("sku")

    ours.update(KEY, change)
    assert seen == [["A", "B"], ["A", "B"]]  # our PUT was refused (412) and we read again
    assert ours.read(KEY).rows() == [("A", "MAIN", 1.0), ("B", "MAIN", 2.0)]


def test_two_concurrent_subset_upserts_lose_no_row(s3_data_uri):
    background = [f"BG-{i:04d}" for i in range(500)]
    TableStore(s3_data_uri).write(KEY, rows(background, -1.0), sort_by=["sku"])
    subsets = {w: [f"W{w}-{i:02d}" for i in range(20)] for w in range(2)}
    start = threading.Barrier(len(subsets))
    rounds = 6

    def upsert(writer: int) -> None:
        store = TableStore(s3_data_uri)  # its own client, as on another machine
        start.wait()
        for round_ in range(rounds):
            skus = subsets[writer]
            store.write(KEY, rows(skus, float(round_)), replace_skus=skus, sort_by=["sku"])

    threads = [threading.Thread(target=upsert, args=(w,)) for w in subsets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    table = TableStore(s3_data_uri).read(KEY)
    got = dict(zip(table["sku"].to_list(), table["available"].to_list(), strict=True))
    expected = {sku: -1.0 for sku in background}
    for skus in subsets.values():
        expected.update({sku: float(rounds - 1) for sku in skus})
    assert got == expected


def test_the_drift_history_of_two_runs_on_one_day_keeps_both(s3_data_uri):
    store = TableStore(s3_data_uri)
    at = datetime(2026, 3, 2, 2, tzinfo=UTC)
    for run, sku in (("run-1", "A"), ("run-2", "B")):
        drift = pl.DataFrame(
            [("shop", sku, f"L-{sku}", 5, 7, 2, "channel_edit", None, "", at)],
            schema=DRIFT_SCHEMA,
            orient="row",
        )
        history.append(store, drift, run, ["shop"], at)
    stored = store.read(history.HISTORY_KEY, "2026-03-02")
    assert stored.select("run_id", "sku").rows() == [("run-1", "A"), ("run-2", "B")]
    assert store.partitions(history.HISTORY_KEY) == ["2026-03-02"]


@dg.asset(key=KEY, metadata={SCOPE_COLUMN: "sku", SORT_BY: ["sku"]})
def stock(sku_scope: SkuScope) -> pl.DataFrame:
    """Stock of every SKU (or of the run's subset), at 1 or, in a partial run, 5 units."""
    everything = rows(["A", "B", "C"], 1.0)
    if sku_scope.is_partial():
        return rows(list(sku_scope.skus or []), 5.0)
    return everything


@dg.asset(key=("inventory", "stock_total"), ins={"stock": dg.AssetIn(key=KEY)})
def stock_total(stock: pl.DataFrame) -> pl.DataFrame:
    """The stock read back, summed."""
    return stock.select(pl.col("available").sum())


@pytest.mark.slow  # two Dagster runs
def test_the_io_manager_round_trips_a_table_and_upserts_a_sku_subset(s3_data_uri, tmp_path):
    scope = SkuScope.configure_at_launch()
    resources = {
        "sku_scope": scope,
        "io_manager": ParquetIOManager(
            base_dir=s3_data_uri, catalog_path=str(tmp_path / "w.duckdb"), sku_scope=scope
        ),
    }
    full = dg.materialize([stock, stock_total], resources=resources)
    assert full.output_for_node("inventory__stock_total").item() == 3.0
    [written] = full.asset_materializations_for_node("inventory__stock")
    assert written.metadata["path"].value == f"{s3_data_uri}/inventory/stock.parquet"
    partial = dg.materialize(
        [stock],
        resources=resources,
        run_config={"resources": {"sku_scope": {"config": {"skus": ["B"]}}}},
    )
    assert partial.success
    assert TableStore(s3_data_uri).read(KEY).rows() == [
        ("A", "MAIN", 1.0),
        ("B", "MAIN", 5.0),
        ("C", "MAIN", 1.0),
    ]
    assert query(tmp_path / "w.duckdb", "SELECT sum(available) AS s FROM inventory.stock")[
        "s"
    ].item() == (7.0)


def test_the_catalog_holds_copies_of_the_tables_that_the_duckdb_cli_reads(
    s3_data_uri, tmp_path, monkeypatch
):
    store = TableStore(s3_data_uri)
    store.write(KEY, rows(["A", "B"], 2.0))
    for channel in ("shop", "woo"):
        store.write(
            ("inventory", "allocation"), rows(["A"], 1.0).with_columns(c=pl.lit(channel)), channel
        )
    catalog = tmp_path / "warehouse.duckdb"
    assert rebuild_catalog(store, catalog) == ["inventory.allocation", "inventory.stock"]
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", str(catalog), "-csv", "-noheader", "-c",
         "SELECT (SELECT count(*) FROM inventory.allocation), "
         "(SELECT sum(available) FROM inventory.stock), "
         "(SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'inventory')"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "2,4.0,2"), done.stderr
    uploaded = s3_data_uri.rsplit("/", 1)[0] + "/analysts/warehouse.duckdb"
    rebuild_catalog(store, uploaded)
    assert query(uploaded, "SELECT count(*) AS n FROM inventory.stock")["n"].item() == 2


def test_the_local_environment_refuses_an_endpoint_off_the_machine(monkeypatch):
    monkeypatch.setenv("INVENTORY_ENV", "local")
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ObjectStoreConfigError, match="needs AWS_ENDPOINT_URL on this machine"):
        TableStore("s3://bucket/data")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.eu-west-1.amazonaws.com")
    with pytest.raises(ObjectStoreConfigError, match=r"refuses .* host 's3\.eu-west-1\.amazonaws"):
        TableStore("s3://bucket/data")
    monkeypatch.setenv("INVENTORY_ENV", "prod")
    assert isinstance(TableStore("s3://bucket/data"), ObjectTableStore)


@pytest.mark.slow  # an Odoo sandbox and two Dagster runs of the real assets (~5 s)
def test_the_inventory_assets_materialize_onto_s3(s3_data_uri, tmp_path):
    with OdooSandbox(version=17, skus=30, seed=3, port=0) as odoo:
        resources = sandbox_resources(odoo, tmp_path)
        scope = resources["sku_scope"]
        resources["io_manager"] = ParquetIOManager(
            base_dir=s3_data_uri,
            catalog_path=str(tmp_path / "warehouse.duckdb"),
            sku_scope=scope,
        )
        assets = [products, locations, stock_quants, canonical_inventory]
        assert dg.materialize(assets, resources=resources).success
        store = TableStore(s3_data_uri)
        before = store.read(("inventory", "canonical_inventory"))
        sku = before.filter(pl.col("warehouse") == "MAIN")["sku"].sort()[0]
        odoo.state.move_stock(sku, "MAIN/Stock", 7)
        partial = dg.materialize(
            assets,
            resources=resources,
            run_config={"resources": {"sku_scope": {"config": {"skus": [sku]}}}},
        )
        assert partial.success
    after = store.read(("inventory", "canonical_inventory"))
    changed = after.join(before, on=["sku", "warehouse"], suffix="_before").filter(
        pl.col("on_hand") != pl.col("on_hand_before")
    )
    assert changed.select("sku", "warehouse").rows() == [(sku, "MAIN")]
    assert after.height == before.height
    by_warehouse = query(
        tmp_path / "warehouse.duckdb",
        "SELECT warehouse, available FROM analytics.stock_by_warehouse ORDER BY warehouse",
    )
    expected = after.group_by("warehouse").agg(pl.col("available").sum()).sort("warehouse")
    assert by_warehouse.rows() == expected.rows()
    tables = [key for key, _ in store.tables()]
    assert set(tables) >= {
        ("odoo", "products"),
        ("odoo", "locations"),
        ("odoo", "stock_quants"),
        ("inventory", "canonical_inventory"),
        ("inventory", "quarantine"),
    }
    # every column of every copied table reads back in the DuckDB CLI 1.x
    reads = [arg for key in tables for arg in ("-c", f"SELECT * FROM {'.'.join(key)}")]
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", str(tmp_path / "warehouse.duckdb"), "-json", *reads],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr


def test_the_default_data_plane_is_the_local_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("INVENTORY_DATA_URI", raising=False)
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    from inventory_pipelines import settings

    assert type(TableStore(settings.data_uri())) is TableStore
    assert settings.data_uri() == str(tmp_path / "tables")
