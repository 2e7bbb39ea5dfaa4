"""Orders in Dagster: poll a channel into the inbox, ingest into Odoo, the inbox sensor."""

import dagster as dg
import pytest

from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.dataplane import query
from inventory_pipelines.defs.orders.assets import (
    channel_orders,
    odoo_order_sync,
    orders_inbox_sensor,
)
from inventory_pipelines.defs.resources import (
    LedgerResource,
    OdooResource,
)
from inventory_pipelines.ledger import create_engine, dlq, inbox, migrate
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources


@pytest.fixture(scope="module")
def sandboxes():
    with (
        OdooSandbox(version=17, skus=60, seed=4, port=0) as odoo,
        ShopifySandbox(skus=60, seed=4, port=0) as shop,
    ):
        yield odoo, shop


@pytest.fixture
def setup(sandboxes, monkeypatch, tmp_path):
    odoo, shop = sandboxes
    for key, value in sandbox_env("shopify", "shopify", shop.credentials()).items():
        monkeypatch.setenv(key, value)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("INVENTORY_LEDGER_URL", ledger_url)
    resources = sandbox_resources(odoo, tmp_path, ledger_url)
    return odoo, shop, resources, ledger_url


def odoo_skus(odoo: OdooSandbox) -> list[str]:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        frame = read_products(client)
    return sorted(
        r["sku"]
        for r in frame.iter_rows(named=True)
        if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
    )


def materialize(assets, resources):
    return dg.materialize(
        [channel_orders, odoo_order_sync],
        selection=[k for a in assets for k in a.keys],
        resources=resources,
        partition_key="shopify",
        raise_on_error=False,
    )


def test_polled_orders_reach_odoo_once_and_a_second_run_changes_nothing(setup) -> None:
    odoo, shop, resources, _ = setup
    sold = [sku for sku in odoo_skus(odoo) if sku in {v.sku for v in shop.state.variants.values()}]
    orders = [shop.state.sell(sold[0], 1), shop.state.sell(sold[1], 2)]
    first = materialize([channel_orders, odoo_order_sync], resources)
    assert first.success
    polled = first.asset_materializations_for_node("orders__channel_orders")[0].metadata
    assert polled["stored"].value == 2
    frame = first.output_for_node("orders__odoo_order_sync")
    assert sorted(frame["external_id"].to_list()) == sorted(str(o.id) for o in orders)
    assert set(frame["odoo_state"].to_list()) == {"sale"}
    again = materialize([channel_orders, odoo_order_sync], resources)
    assert again.success
    polled = again.asset_materializations_for_node("orders__channel_orders")[0].metadata
    assert (polled["stored"].value, polled["duplicates"].value) == (0, 2)  # overlap re-read
    synced = again.asset_materializations_for_node("orders__odoo_order_sync")[0].metadata
    assert synced["created"].value == 0
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        refs = client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=like", "shopify/%"]]],
            {"fields": ["client_order_ref"]},
        )
    assert sorted(r["client_order_ref"] for r in refs) == sorted(f"shopify/{o.id}" for o in orders)


def parked_check(result: dg.ExecuteInProcessResult, node: str) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "no_parked_orders" and e.asset_key.to_user_string() == node
    ]
    return evaluation


def test_a_parked_order_fails_the_check_without_failing_the_run_until_it_is_settled(
    setup,
) -> None:
    _, _, resources, ledger_url = setup
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        inbox.receive(
            conn,
            [
                inbox.InboxEvent(
                    "shopify",
                    "999",
                    "created",
                    "created",
                    "webhook",
                    {
                        "external_id": "999",
                        "event": "created",
                        "kind": "created",
                        "lines": [
                            {"listing_id": None, "sku": "SKU-999999", "quantity": 1, "price": None}
                        ],
                        "updated_at": "2026-11-27T10:00:00Z",
                    },
                )
            ],
        )
    parked = materialize([odoo_order_sync], resources)
    assert parked.success  # the asset materializes what it did: never an output, then a failure
    assert not [e for e in parked.all_events if e.is_step_failure]
    check = parked_check(parked, "orders/odoo_order_sync")
    with engine.connect() as conn:
        [letter] = dlq.list_open(conn, "shopify")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.partition == "shopify"
    assert f"#{letter.id} (order 999 created: unknown SKU SKU-999999)" in check.description
    assert f"inventory-sync dlq show {letter.id}" in check.description
    assert f"inventory-sync dlq discard {letter.id} --reason" in check.description
    with engine.connect() as conn:
        dlq.discard(conn, letter.id, actor="test", reason="a test order")
    engine.dispose()
    settled = materialize([odoo_order_sync], resources)
    assert settled.success and parked_check(settled, "orders/odoo_order_sync").passed


def test_odoo_down_fails_the_ingestion_before_any_output(setup) -> None:
    _, _, resources, ledger_url = setup
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        inbox.receive(
            conn,
            [
                inbox.InboxEvent(
                    "shopify",
                    "998",
                    "created",
                    "created",
                    "webhook",
                    {
                        "external_id": "998",
                        "event": "created",
                        "kind": "created",
                        "lines": [{"listing_id": None, "sku": "SKU-000001", "quantity": 1}],
                        "updated_at": "2026-11-27T10:00:00Z",
                    },
                )
            ],
        )
    engine.dispose()
    down = {
        **resources,
        "odoo": OdooResource(url="http://127.0.0.1:9", db="x", login="x", api_key="x"),
    }
    failed = materialize([odoo_order_sync], down)
    assert not failed.success
    assert not [e for e in failed.all_events if e.event_type_value == "STEP_OUTPUT"]


def test_the_sensor_asks_for_ingestion_then_one_refresh_of_the_ordered_skus_everywhere(
    setup,
) -> None:
    ledger_url = setup[3]
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    sensor_resources = {"ledger": LedgerResource(url=ledger_url)}
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=sensor_resources)
        assert isinstance(orders_inbox_sensor(context), dg.SkipReason)
        with engine.connect() as conn:
            inbox.receive(
                conn,
                [
                    inbox.InboxEvent(
                        "woocommerce",
                        "5",
                        "created",
                        "created",
                        "webhook",
                        {"lines": [{"sku": "SKU-000007", "quantity": 1}]},
                    )
                ],
            )
        result = orders_inbox_sensor(context)
        requests, cursor = result.run_requests, result.cursor
        assert [(r.job_name, r.partition_key) for r in requests[:1]] == [
            ("ingest_orders", "woocommerce")
        ]
        (refresh,) = [r for r in requests if r.job_name == "refresh_ordered_skus"]
        # one run over every channel: decreases of all of them before any increase
        assert refresh.tags["dagster/asset_partition_range_start"] == "shopify"
        assert refresh.tags["dagster/asset_partition_range_end"] == "b2b"
        config = refresh.run_config
        assert config["resources"]["sku_scope"]["config"]["skus"] == ["SKU-000007"]
        assert "ops" not in config  # the fast path raises as well as lowers (fences hold)
        from inventory_pipelines.definitions import defs

        job = defs().resolve_job_def("refresh_ordered_skus")
        dg.validate_run_config(job, config)  # the sensor's run config is one the job accepts
        batch = defs().resolve_job_def("publish_channels")
        # fast-path runs outrank batch runs in the queued run coordinator
        assert int(job.tags["dagster/priority"]) > int(batch.tags["dagster/priority"])
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=sensor_resources
        )
        assert isinstance(orders_inbox_sensor(context), dg.SkipReason)
    engine.dispose()


def test_a_parked_order_reaches_the_analysts_catalog_and_its_settling_too(setup, tmp_path) -> None:
    _, _, resources, ledger_url = setup
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    unknown = {"sku": "SKU-999999", "quantity": 1}
    with engine.connect() as conn:
        inbox.receive(
            conn,
            [
                inbox.InboxEvent(
                    "shopify", "997", "created", "created", "webhook", {"lines": [unknown]}
                )
            ],
        )
    open_letters = (
        "SELECT open, discarded FROM analytics.dead_letters_by_channel WHERE kind = 'order'"
    )
    assert materialize([odoo_order_sync], resources).success
    assert query(tmp_path / "warehouse.duckdb", open_letters).rows() == [(1, 0)]
    with engine.connect() as conn:
        [letter] = dlq.list_open(conn, "shopify")
        dlq.discard(conn, letter.id, actor="test", reason="a test order")
    engine.dispose()
    assert materialize([odoo_order_sync], resources).success
    assert query(tmp_path / "warehouse.duckdb", open_letters).rows() == [(0, 1)]
