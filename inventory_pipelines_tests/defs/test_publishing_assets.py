"""Publishing end to end in Dagster: Odoo sandbox -> allocation -> real channel emulators."""

import shutil

import dagster as dg
import pytest
import yaml

from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.inventory.allocation import channel_allocation
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.odoo.assets import locations, products, stock_moves, stock_quants
from inventory_pipelines.defs.publish.assets import (
    channel_stock,
    product_identity,
    published_channel_state,
)
from inventory_pipelines.defs.resources import RulesResource
from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

UPSTREAM = [products, locations, stock_quants, stock_moves, canonical_inventory]
CHANNEL_ASSETS = [channel_allocation, channel_stock, product_identity, published_channel_state]


@pytest.fixture(scope="module")
def sandboxes():
    with (
        OdooSandbox(version=17, skus=150, seed=4, port=0) as odoo,
        GenericChannelSandbox(listings=160, seed=4, port=0) as pos,
        ShopifySandbox(skus=160, seed=4, port=0) as shop,
    ):
        yield odoo, pos, shop


@pytest.fixture
def env(sandboxes, monkeypatch):
    _, pos, shop = sandboxes
    for name, kind, sandbox in (("pos", "generic", pos), ("shopify", "shopify", shop)):
        for key, value in sandbox_env(name, kind, sandbox.credentials()).items():
            monkeypatch.setenv(key, value)


def resources(odoo, tmp_path) -> dict:
    return sandbox_resources(odoo, tmp_path)


MODELS = build_model_assets(default_rules_dir(), TABLES)
ALL = [*UPSTREAM, *MODELS, *CHANNEL_ASSETS]


def run(assets, res, partition=None) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        ALL,
        selection=[key for a in assets for key in a.keys],
        resources=res,
        partition_key=partition,
        raise_on_error=False,
    )
    assert result.success, [
        e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure
    ]
    return result


def published_metadata(result) -> dict:
    (event,) = [
        m for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["inventory", "published_channel_state"])
    ]  # fmt: skip
    return {k: v.value for k, v in event.materialization.metadata.items()}


def assert_pos_shows_its_allocation(tmp_path, pos) -> None:
    """Every mapped listing of the generic channel shows what its allocation publishes."""
    store = TableStore(tmp_path / "tables")
    allocation = store.read(("inventory", "channel_allocation"), "pos")
    mapping = store.read(("inventory", "product_identity"), "pos")
    expected = allocation.join(mapping, on="sku").select("listing_id", "publishable")
    shows = {k: v.quantity for k, v in pos.state.listings.items()}
    assert {k: shows[k] for k in expected["listing_id"]} == dict(expected.iter_rows())


@pytest.mark.parametrize("channel", ["pos", "shopify"])
def test_the_allocation_reaches_the_channel_and_a_second_publish_calls_nothing(
    sandboxes, env, tmp_path, channel
):
    odoo, pos, shop = sandboxes
    res = resources(odoo, tmp_path)
    run([*UPSTREAM, *MODELS], res)
    first = run(CHANNEL_ASSETS, res, partition=channel)
    figures = published_metadata(first)
    assert figures["sent"] > 0 and figures["failed"] == 0

    store = TableStore(tmp_path / "tables")
    allocation = store.read(("inventory", "channel_allocation"), channel)
    mapping = store.read(("inventory", "product_identity"), channel)
    expected = allocation.join(mapping, on="sku").select("listing_id", "publishable")
    if channel == "pos":
        shows = {k: v.quantity for k, v in pos.state.listings.items()}
    else:
        shows = {
            row[0]: shop.state.quantity(row[1])
            for row in mapping.select("listing_id", "sku").iter_rows()
        }
    assert {k: shows[k] for k in expected["listing_id"]} == dict(expected.iter_rows())

    again = run([published_channel_state], res, partition=channel)
    assert published_metadata(again)["api_calls"] == 0
    assert published_metadata(again)["sent"] == 0
    problems = store.read(("inventory", "identity_problems"), channel)
    assert set(problems["problem"]) >= {"unmapped_sku"}
    assert (expected["publishable"] >= 0).all()


def test_a_channel_outage_opens_its_circuit_fails_the_partition_and_the_next_probe_recovers_it(
    sandboxes, env, tmp_path, monkeypatch
):
    """The channel down: its circuit opens, the partition fails saying so and until when,
    nothing is dead-lettered; once the probe time has come the next publish sends it all."""
    import datetime as dt

    from inventory_pipelines.ledger import create_engine, dlq
    from inventory_pipelines.ledger.schema import channel_circuits

    odoo, pos, _ = sandboxes
    res = resources(odoo, tmp_path)
    run([*UPSTREAM, *MODELS], res)
    for listing_id in list(pos.state.listings):
        pos.state.set_quantity(listing_id, 0)  # so that this publish has work to do
    run([channel_stock], res, partition="pos")
    monkeypatch.setattr("inventory_pipelines.publishing.publisher.time.sleep", lambda s: None)
    pos.faults.set_outage(True)
    try:
        failed = dg.materialize(
            ALL,
            selection=[k for a in CHANNEL_ASSETS if a is not channel_stock for k in a.keys],
            resources=res,
            partition_key="pos",
            raise_on_error=False,
        )
    finally:
        pos.faults.set_outage(False)
    assert not failed.success
    failures = [e.step_failure_data.error.to_string() for e in failed.all_events
                if e.is_step_failure]  # fmt: skip
    assert any("pos: circuit open since" in f and "next probe at" in f for f in failures)
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with engine.begin() as conn:
        assert dlq.list_open(conn, "pos") == []
        conn.execute(  # the probe time comes
            channel_circuits.update().values(retry_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        )
    recovered = run([published_channel_state], res, partition="pos")
    assert published_metadata(recovered)["failed"] == 0
    assert_pos_shows_its_allocation(tmp_path, pos)


def _rules_with(tmp_path, shares: dict[str, dict]) -> RulesResource:
    """A copy of the shipped rules with the `allocation` of some channels replaced."""
    folder = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), folder, dirs_exist_ok=True)
    document = yaml.safe_load((folder / "channels.yml").read_text())
    for channel in document["channels"]:
        channel["allocation"] = shares.get(channel["name"], channel["allocation"])
    (folder / "channels.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    return RulesResource(directory=str(folder))


def test_after_a_share_change_one_partition_holds_its_increases_until_every_fence_is_published(
    sandboxes, env, tmp_path
):
    """Shopify's share moves from 40% to 50% (WooCommerce and Amazon leave the fences):
    re-materializing only `pos` sends its decreases and no increase, since Shopify may still
    offer its old share; once Shopify's partition has published its whole catalog under the
    new shares, `pos` sends them."""
    odoo, pos, _ = sandboxes
    res = resources(odoo, tmp_path)
    run([*UPSTREAM, *MODELS], res)
    run(CHANNEL_ASSETS, res, partition="pos")  # the first shares: nothing held
    shared = {"mode": "shared"}
    res["rules"] = _rules_with(
        tmp_path,
        {"shopify": {"mode": "percent", "percent": 50}, "woocommerce": shared, "amazon": shared},
    )
    for listing_id in list(pos.state.listings):
        pos.state.set_quantity(listing_id, 0)  # every positive target is now an increase
    alone = published_metadata(run(CHANNEL_ASSETS, res, partition="pos"))
    assert alone["increases_held"] > 0 and alone["increases_held_for"] == "shopify"
    assert alone["pending_left"] == 0
    assert all(x.quantity == 0 for x in pos.state.listings.values())

    shopify = published_metadata(run(CHANNEL_ASSETS, res, partition="shopify"))
    assert shopify["increases_held"] == 0 and shopify["increases_held_for"] == ""
    again = published_metadata(run([published_channel_state], res, partition="pos"))
    assert again["increases_held"] == 0 and again["sent"] == alone["increases_held"]
    assert_pos_shows_its_allocation(tmp_path, pos)
