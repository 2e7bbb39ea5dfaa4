"""`inventory-sync explain`: the trace of one (channel, sku), for people and for machines."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from inventory_pipelines.allocation.engine import SOURCES, STEPS, allocate, fence_sales_frame
from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.allocation.policies import NOW

CANONICAL = pl.DataFrame(
    {
        "sku": ["SKU-000001", "SKU-000001", "SKU-000991"],
        "warehouse": ["MAIN", "EAST", "MAIN"],
        "available": [100.0, 50.0, 80.0],
    }
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    allocation = allocate(
        CANONICAL,
        load_policy(now=NOW),
        NOW,
        pending=pl.DataFrame({"sku": ["SKU-000001"], "pending": [10.0]}),
        # the 10 pending units were sold on shopify (4) and amazon (6) since the fences were based
        sales=fence_sales_frame({("shopify", "SKU-000001"): 4, ("amazon", "SKU-000001"): 6}),
    )
    store = TableStore(tmp_path)
    for channel in ("shopify", "amazon"):
        store.write(
            ("inventory", "channel_allocation"),
            allocation.filter(pl.col("channel") == channel).with_columns(
                pl.col("channel").cast(pl.Utf8)
            ),
            channel,
        )
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    return tmp_path


def test_json_has_every_step_with_its_value_and_rule(data_dir):
    result = CliRunner().invoke(
        main, ["explain", "--channel", "shopify", "--sku", "SKU-000001", "--json"]
    )
    assert result.exit_code == 0, result.output
    trace = json.loads(result.output)
    assert list(trace) == [*SOURCES, *STEPS, "fence"]
    values = {step: trace[step]["value"] for step in [*SOURCES, *STEPS]}
    assert values == {
        "own": 150.0,
        "dropship": 0.0,  # shopify sells no drop-ship
        "incoming": 0.0,  # nor incoming stock
        "pool": 150.0,
        "pending": 10.0,
        "net": 140.0,
        "allocated": 56.0,  # 40% of the fence base (140 + the 10 sold), less its own 4 sales
        "buffered": 54.0,  # 2 units of safety buffer
        "thresholded": 54.0,
        "suppressed": 54.0,
        "publishable": 54,
    }
    assert trace["pool"]["rule"] == "channels.yml: shopify.warehouses MAIN+EAST"
    assert trace["allocated"]["rule"].startswith(
        "channels.yml: shopify.allocation ring-fenced 40% of the fence base"
    )
    assert trace["buffered"]["rule"] == "channels.yml: shopify.safety_buffer 2 units"
    assert trace["fence"] == {"base": 150.0, "sold": 4.0}


def test_the_rule_of_an_active_suppression_is_named(data_dir):
    result = CliRunner().invoke(
        main, ["explain", "--channel", "amazon", "--sku", "SKU-000991", "--json"]
    )
    trace = json.loads(result.output)
    assert trace["suppressed"]["value"] == 0 and trace["thresholded"]["value"] > 0
    assert trace["suppressed"]["rule"].startswith("suppressions.yml: suppressions.0 SKU-00099*")


def test_text_output_lists_the_steps_in_order(data_dir):
    result = CliRunner().invoke(main, ["explain", "--channel", "shopify", "--sku", "SKU-000001"])
    lines = result.output.splitlines()
    assert lines[0] == "shopify / SKU-000001"
    steps = [*SOURCES, *STEPS]
    steps.insert(steps.index("allocated") + 1, "fence")  # shopify is ring-fenced
    assert [line.split()[0] for line in lines[1:]] == steps


@pytest.mark.bad_input
def test_an_unknown_channel_or_sku_is_a_clear_error(data_dir):
    runner = CliRunner()
    no_channel = runner.invoke(main, ["explain", "--channel", "ebay", "--sku", "SKU-000001"])
    assert no_channel.exit_code == 1
    assert "amazon, shopify" in no_channel.output
    no_sku = runner.invoke(main, ["explain", "--channel", "shopify", "--sku", "NOPE"])
    assert no_sku.exit_code == 1 and "NOPE" in no_sku.output
