"""The reconciliation end to end, against Odoo and one emulator per channel of `channels.yml`.

Everything is published by the real `reconcile_all` job, then one case of each cause is made
the way it happens (a merchant's edit, a sale at a till, an order not polled yet, a publish
refused by the channel, a listing that loses its SKU, stock that moves in Odoo without being
published), drift is measured (read back, poll, map, drift: no publish), then the nightly job
corrects it and audits each correction with its cause, and the drift after it is only what no
publish can correct. One Dagster instance serves every run, as the daemon's does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.channels.woocommerce import parse_listing_id
from inventory_pipelines.dataplane import TableStore, query
from inventory_pipelines.defs.inventory.allocation import channel_allocation
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.odoo.assets import locations, products, stock_moves, stock_quants
from inventory_pipelines.defs.orders.assets import channel_orders, odoo_order_sync
from inventory_pipelines.defs.publish.assets import (
    channel_stock,
    product_identity,
    published_channel_state,
)
from inventory_pipelines.defs.reconciliation.assets import (
    THRESHOLD_CHECK,
    drift_asset,
    history_spec,
)
from inventory_pipelines.defs.reconciliation.schedules import reconcile_all
from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets
from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    CHANNEL_STOCK,
    DRIFT,
    DRIFT_HISTORY,
    IDENTITY_PROBLEMS,
    POLICY,
    PRODUCT_IDENTITY,
    PRODUCTS,
    PUBLISHED,
    QUARANTINE,
    STOCK_QUANTS,
    channel_range_tags,
)
from inventory_pipelines.ledger import audit, create_engine, dlq
from inventory_pipelines.ledger import reconciliation as drift_audit
from inventory_pipelines.reconciliation import CAUSES, Level, verdict
from inventory_pipelines.reconciliation.history import HISTORY_KEY, drift_by_day_sql
from inventory_pipelines.rules import default_rules_dir, load_policy
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

pytestmark = pytest.mark.slow

CHANNELS = POLICY.channels.names()
ALL_CHANNELS = channel_range_tags(CHANNELS)
ASSETS = [
    products,
    locations,
    stock_quants,
    stock_moves,
    canonical_inventory,
    *build_model_assets(default_rules_dir(), TABLES),
    channel_allocation,
    channel_stock,
    channel_orders,
    odoo_order_sync,
    product_identity,
    drift_asset,
    history_spec,
    published_channel_state,
]
#: read back, poll, map and measure: what drift is without correcting it
MEASURE = [CHANNEL_STOCK, CHANNEL_ORDERS, PRODUCT_IDENTITY, IDENTITY_PROBLEMS, DRIFT]
#: the fast path of a stock change: a SKU subset from Odoo to every channel, no read-back
FAST_PATH = [PRODUCTS, STOCK_QUANTS, CANONICAL, QUARANTINE, CHANNEL_ALLOCATION, PUBLISHED]
#: the snapshot and the allocation without a publish (stock moved in Odoo, not sent yet)
ALLOCATE_ONLY = [PRODUCTS, STOCK_QUANTS, CANONICAL, QUARANTINE, CHANNEL_ALLOCATION]


@dataclass
class World:
    """Odoo, one emulator per channel, the tables, the ledger and one Dagster instance."""

    odoo: OdooSandbox
    channels: dict[str, object]
    folder: Path
    instance: dg.DagsterInstance

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.folder / 'ledger.sqlite'}"

    def resources(self, rules_dir: Path | None = None) -> dict[str, object]:
        res = sandbox_resources(self.odoo, self.folder, self.ledger_url)
        if rules_dir is not None:
            res["rules"] = type(res["rules"])(directory=str(rules_dir))
        return res

    def table(self, key: list[str], channel: str) -> pl.DataFrame:
        return TableStore(self.folder / "tables").read(key, channel)

    def drift(self) -> pl.DataFrame:
        return pl.concat([self.table(DRIFT, c) for c in CHANNELS], how="vertical_relaxed")

    def materialize(self, selection, rules_dir: Path | None = None, **kwargs):
        return dg.materialize(
            ASSETS,
            selection=dg.AssetSelection.assets(*selection),
            resources=self.resources(rules_dir),
            instance=self.instance,
            raise_on_error=False,
            **kwargs,
        )

    def reconcile(self) -> dg.ExecuteInProcessResult:
        """The real `reconcile_all` job over every channel, as the nightly schedule runs it."""
        defs = dg.Definitions(assets=ASSETS, jobs=[reconcile_all], resources=self.resources())
        return defs.resolve_job_def("reconcile_all").execute_in_process(
            instance=self.instance, tags=ALL_CHANNELS, raise_on_error=False
        )


def _emulator(kind: str, seed: int):
    if kind == "shopify":
        return ShopifySandbox(skus=90, seed=seed, port=0)
    if kind == "woocommerce":
        return WooCommerceSandbox(products=90, seed=seed, port=0)
    if kind == "amazon":
        return AmazonSandbox(skus=90, seed=seed, port=0)
    return GenericChannelSandbox(listings=90, seed=seed, port=0)


@pytest.fixture
def world(tmp_path, monkeypatch) -> Iterator[World]:
    odoo = OdooSandbox(version=17, skus=80, seed=6, port=0)
    emulators = {c.name: _emulator(c.kind.value, 6) for c in POLICY.channels.channels}
    odoo.start()
    for emulator in emulators.values():
        emulator.start()
    try:
        for name, emulator in emulators.items():
            kind = POLICY.channels.get(name).kind.value
            for key, value in sandbox_env(name, kind, emulator.credentials()).items():
                monkeypatch.setenv(key, value)
        with dg.instance_for_test() as instance:
            yield World(odoo, emulators, tmp_path, instance)
    finally:
        for emulator in emulators.values():
            emulator.stop()
        odoo.stop()


def succeeded(result: dg.ExecuteInProcessResult) -> dg.ExecuteInProcessResult:
    assert result.success, [
        e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure
    ]
    return result


def keys(frame: pl.DataFrame) -> dict[tuple[str, str | None, str | None], str]:
    """(channel, sku, listing_id) -> cause."""
    return {(r["channel"], r["sku"], r["listing_id"]): r["cause"] for r in frame.to_dicts()}


def threshold_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == THRESHOLD_CHECK
    ]
    return evaluation


def rules_with(tmp_path: Path, **drift: float) -> Path:
    """A copy of the shipped rules with other drift thresholds."""
    folder = tmp_path / f"rules-{len(list(tmp_path.glob('rules-*')))}"
    shutil.copytree(default_rules_dir(), folder)
    automation = yaml.safe_load((folder / "automation.yml").read_text())
    automation["drift"] = drift
    (folder / "automation.yml").write_text(yaml.safe_dump(automation))
    return folder


def mapped(world: World, channel: str) -> dict[str, str]:
    """SKU -> listing on the channel."""
    return dict(world.table(PRODUCT_IDENTITY, channel).select("sku", "listing_id").iter_rows())


def publishable(world: World, channel: str) -> dict[str, int]:
    return dict(world.table(CHANNEL_ALLOCATION, channel).select("sku", "publishable").iter_rows())


def test_drift_is_measured_with_its_causes_corrected_by_the_nightly_job_and_audited(
    world, tmp_path
):
    # -- everything published by the nightly job: what is left is the sandbox's dirty catalogs
    succeeded(world.reconcile())
    succeeded(world.materialize(MEASURE, tags=ALL_CHANNELS))
    baseline = keys(world.drift())
    assert baseline and set(baseline.values()) == {"unmapped_listing"}, baseline

    # -- one case of each cause
    shop, woo, pos, b2b = (mapped(world, c) for c in ("shopify", "woocommerce", "pos", "b2b"))
    before = {c: publishable(world, c) for c in CHANNELS}
    common = sorted(set(shop) & set(woo) & set(pos) & set(b2b))

    # missed_update and dead_letter: EAST stock of a SKU moves in Odoo and is allocated, but
    # the only channel published is pos, which refuses the batch (dead-lettered)
    moved = next(s for s in common if 5 <= before["pos"][s] < 40 and before["shopify"][s] > 5)
    world.odoo.state.move_stock(moved, "EAST/Stock", -8)
    succeeded(world.materialize(ALLOCATE_ONLY, tags=ALL_CHANNELS))
    after = {c: publishable(world, c) for c in CHANNELS}
    changed = {c for c in CHANNELS if after[c][moved] != before[c][moved]}
    assert {"pos", "shopify"} <= changed, (before, after)
    world.channels["pos"].faults.fail_next(1, 400)
    refused = world.materialize([PUBLISHED], partition_key="pos")
    assert not refused.success
    engine = create_engine(world.ledger_url)
    with engine.connect() as conn:
        [letter] = dlq.list_open(conn, "pos", kind="publish")

    # stale_compare: b2b sells a pack at a till (no order API), then the fast path publishes
    # a stock change of that SKU against what it believed b2b showed: stale, a drop recorded
    stale_sku = next(s for s in common if s != moved and before["b2b"][s] >= 3)
    world.channels["b2b"].state.sell(b2b[stale_sku], 1)
    world.odoo.state.move_stock(stale_sku, "MAIN/Stock", 60)
    world.materialize(
        FAST_PATH,
        tags=ALL_CHANNELS,
        run_config={"resources": {"sku_scope": {"config": {"skus": [stale_sku]}}}},
    )  # fails: pos still has its open dead letter, which this publish names

    # pending_order: an order on Shopify, not polled yet
    sold = next(
        s for s in sorted(shop) if s not in (moved, stale_sku) and before["shopify"][s] >= 3
    )
    world.channels["shopify"].state.sell(sold, 2)

    # channel_edit: a merchant changes a WooCommerce listing
    edited = next(s for s in sorted(woo) if s not in (moved, stale_sku, sold))
    product, variation = parse_listing_id(woo[edited])
    world.channels["woocommerce"].state.items[variation or product].stock_quantity = (
        after["woocommerce"][edited] + 7
    )

    # unmapped_listing: a pos listing loses its SKU and barcode (its SKU has no listing left)
    lost = next(
        s
        for s in common
        if s not in (moved, stale_sku, sold, edited)
        and after["pos"][s] > 0
        and world.channels["pos"].state.listings[pos[s]].quantity > 0
    )
    listing = world.channels["pos"].state.listings[pos[lost]]
    listing.sku = listing.barcode = None

    # -- measured: each case has its cause; the shipped thresholds fail the check (ERROR)
    measured = succeeded(world.materialize(MEASURE, tags=ALL_CHANNELS))
    frame = world.drift()
    found = {k: v for k, v in keys(frame).items() if k not in baseline}
    wanted = {
        ("pos", moved, pos[moved]): "dead_letter",
        ("b2b", stale_sku, b2b[stale_sku]): "stale_compare",
        ("shopify", sold, shop[sold]): "pending_order",
        ("woocommerce", edited, woo[edited]): "channel_edit",
        ("pos", lost, None): "unmapped_listing",
        ("pos", None, pos[lost]): "unmapped_listing",
        **{(c, moved, mapped(world, c)[moved]): "missed_update" for c in changed - {"pos"}},
    }
    assert found == wanted
    assert set(CAUSES) <= set(found.values())
    check = threshold_check(measured)
    assert not check.passed and check.severity is dg.AssetCheckSeverity.ERROR
    assert set(check.metadata["levels"].value.values()) == {"error"}
    assert "error_percent" in check.description

    # each channel's materialization carries its own figures under stable keys
    figures = {
        e.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in measured.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(DRIFT)
    }
    for channel in CHANNELS:
        rows = frame.filter(pl.col("channel") == channel)
        assert figures[channel]["drift_skus"] == rows.height
        assert figures[channel]["drift_units"] == rows["difference"].abs().sum()
        assert figures[channel]["listings_compared"] > 0
        for cause in CAUSES:
            assert figures[channel][f"drift_{cause}"] == (rows["cause"] == cause).sum()

    # the same drift against other thresholds: WARN on some channels, ERROR on the largest
    counts = {c: figures[c]["drift_skus"] for c in CHANNELS}
    ranked = sorted(set(counts.values()))
    loose = rules_with(tmp_path, warn_skus=0, error_skus=ranked[-2], error_percent=100)
    again = threshold_check(
        succeeded(world.materialize(MEASURE, rules_dir=loose, tags=ALL_CHANNELS))
    )
    thresholds = load_policy(loose).automation.drift
    levels = {
        c: verdict(counts[c], figures[c]["listings_compared"], thresholds).level.value
        for c in CHANNELS
    }
    assert again.metadata["levels"].value == levels
    assert {Level.WARN.value, Level.ERROR.value} == set(levels.values())
    assert again.severity is dg.AssetCheckSeverity.ERROR

    # -- the nightly job corrects what drifted (its publish fails only for the open letter)
    nightly = world.reconcile()
    failed = [e.step_key for e in nightly.all_events if e.is_step_failure]
    assert failed == ["inventory__published_channel_state"], failed
    assert f"1 open dead letter(s) ({letter.id})" in str(
        [e.step_failure_data.error.to_string() for e in nightly.all_events if e.is_step_failure]
    )
    seen = world.drift()  # the drift that run measured before its publish
    correctable = seen.filter(pl.col("cause") != "unmapped_listing")
    assert ("pos", moved, pos[moved]) in keys(correctable)
    with engine.connect() as conn:
        corrected = audit.history(
            conn, correlation_id=nightly.run_id, action=drift_audit.CORRECTED, limit=10_000
        )
        observed = audit.history(
            conn, correlation_id=nightly.run_id, action=drift_audit.OBSERVED, limit=10_000
        )
    assert len(observed) == correctable.height
    audited = {(e.source, e.entity.split("/", 2)[2]): e for e in corrected}
    assert set(audited) == {(r["channel"], r["listing_id"]) for r in correctable.to_dicts()}
    for row in correctable.to_dicts():
        entry = audited[(row["channel"], row["listing_id"])]
        assert entry.before == {"quantity": row["actual"], "cause": row["cause"]}
        assert entry.after["quantity"] == row["expected"]
    assert audited[("pos", pos[moved])].before["cause"] == "dead_letter"

    # -- the operator settles the letter; the next drift is what no publish can correct
    with engine.connect() as conn:
        dlq.discard(conn, letter.id, actor="ops", reason="the update was sent again")
    engine.dispose()
    succeeded(world.materialize(MEASURE, tags=ALL_CHANNELS))
    left = keys(world.drift())
    assert left == {
        **baseline,
        ("pos", lost, None): "unmapped_listing",
        ("pos", None, pos[lost]): "unmapped_listing",
    }

    # -- the history holds the day's rows of every run, and a DuckDB query over it works
    history = TableStore(world.folder / "tables").read(
        HISTORY_KEY, datetime.now(UTC).date().isoformat()
    )
    assert history["run_id"].n_unique() == 6  # two nightly runs, four measures
    assert set(history["day"]) == {datetime.now(UTC).date()}
    by_day = query(
        world.folder / "warehouse.duckdb", drift_by_day_sql(), tables_dir=world.folder / "tables"
    )
    assert set(by_day["cause"]) == set(CAUSES)
    days = world.instance.get_materialized_partitions(dg.AssetKey(DRIFT_HISTORY))
    assert days == {datetime.now(UTC).date().isoformat()}
