"""Credentials rotate without a restart: each run reads them afresh from the environment, and an
Amazon access token is refreshed before it expires, not after Amazon refuses it."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.channels.base import QuantityUpdate, UpdateStatus
from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.defs.io_manager import ParquetIOManager, SkuScope
from inventory_pipelines.defs.publish.assets import channel_stock
from inventory_pipelines.defs.resources import ChannelsResource, LedgerResource, RulesResource
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox

TOKEN = "INVENTORY_CHANNEL_SHOPIFY_ACCESS_TOKEN"


def read_back(tmp_path: Path) -> dg.ExecuteInProcessResult:
    """One run of `reconciliation/channel_stock` for shopify, with the staging resources' way
    of configuring channels (from the environment, at each connector)."""
    scope = SkuScope.configure_at_launch()
    return dg.materialize(
        [channel_stock],
        partition_key="shopify",
        resources={
            "channels": ChannelsResource(environment="staging"),
            "ledger": LedgerResource(url=f"sqlite:///{tmp_path / 'ledger.sqlite'}"),
            "rules": RulesResource(directory=str(default_rules_dir())),
            "sku_scope": scope,
            "io_manager": ParquetIOManager(
                base_dir=str(tmp_path / "tables"),
                catalog_path=str(tmp_path / "warehouse.duckdb"),
                sku_scope=scope,
            ),
        },
        raise_on_error=False,
    )


def test_a_channel_token_rotated_between_two_runs_is_used_by_the_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ShopifySandbox(skus=10, seed=3, port=0, access_token="shpat_rotation_one") as shop:
        for key, value in sandbox_env("shopify", "shopify", shop.credentials()).items():
            monkeypatch.setenv(key, value)
        assert read_back(tmp_path).success

        shop.state.access_token = "shpat_rotation_two"  # rotated in the shop's admin
        assert not read_back(tmp_path).success  # the old token is refused: the run reads one

        monkeypatch.setenv(TOKEN, "shpat_rotation_two")  # the secret updated, no restart
        second = read_back(tmp_path)
        assert second.success
        [event] = second.get_asset_materialization_events()
        assert event.materialization.metadata["listings"].value > 0


def test_an_amazon_token_near_expiry_is_refreshed_before_the_call_not_after_a_refusal() -> None:
    # the sandbox issues tokens that live 2 s (its `expires_in`); the connector renews one in
    # its last tenth, while Amazon still takes it
    with AmazonSandbox(skus=10, seed=4, port=0, token_ttl_s=2.0, feed_window=None) as amazon:
        creds = amazon.credentials()
        connector = AmazonConnector(
            creds["endpoint"],
            creds["seller_id"],
            creds["marketplace_id"],
            creds["client_id"],
            creds["client_secret"],
            creds["refresh_token"],
        )
        try:
            sku = sorted(amazon.state.listings)[0]
            connector.publish([QuantityUpdate(sku, sku, 4)], "rotation-1")
            assert amazon.state.tokens_issued == 1
            time.sleep(1.85)  # past 1.8 s: near expiry, not expired at Amazon yet
            amazon.reset_request_count()
            [result] = connector.publish([QuantityUpdate(sku, sku, 5)], "rotation-2")
        finally:
            connector.close()
    assert result.status == UpdateStatus.ACKNOWLEDGED
    assert amazon.state.tokens_issued == 2
    assert amazon.request_count == 2  # a new token, then the patch: no 403 on the way
