"""A changed rule file changes the code version of what depends on it (the UI shows it stale)."""

import json
import os
import shutil
import subprocess
import sys

from inventory_pipelines.rules import default_rules_dir

PRINT_VERSIONS = """
import json
from inventory_pipelines.definitions import defs
graph = defs().resolve_asset_graph()
keys = graph.get_all_asset_keys()
print(json.dumps({k.to_user_string(): graph.get(k).code_version for k in keys}))
"""


def code_versions(rules_dir) -> dict[str, str]:
    env = {**os.environ, "INVENTORY_RULES_DIR": str(rules_dir)}
    out = subprocess.run(
        [sys.executable, "-c", PRINT_VERSIONS], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_channel_rule_change_makes_only_the_allocation_stale(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    before = code_versions(rules)
    channels = rules / "channels.yml"
    channels.write_text(channels.read_text().replace("percent: 40", "percent: 35"))
    after = code_versions(rules)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"inventory/channel_allocation"}


def test_a_warehouse_rule_change_makes_locations_canonical_and_allocation_stale(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    before = code_versions(rules)
    warehouses = rules / "warehouses.yml"
    warehouses.write_text(warehouses.read_text().replace('"*/Stock/Damaged"', '"*/Stock/Broken"'))
    after = code_versions(rules)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {
        "odoo/locations",
        "inventory/canonical_inventory",
        "inventory/quarantine",
        "inventory/channel_allocation",
    }


def test_an_order_policy_change_makes_only_the_order_sync_stale(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    before = code_versions(rules)
    orders = rules / "orders.yml"
    orders.write_text(
        orders.read_text().replace("after_fulfilment: accept", "after_fulfilment: review")
    )
    after = code_versions(rules)
    assert {key for key in before if before[key] != after[key]} == {"orders/odoo_order_sync"}


def test_a_model_change_makes_that_model_stale(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    before = code_versions(rules)
    model = rules / "models" / "stock_by_warehouse.sql"
    model.write_text(model.read_text().replace("ORDER BY warehouse", "ORDER BY 1"))
    after = code_versions(rules)
    assert {key for key in before if before[key] != after[key]} == {"rules/stock_by_warehouse"}


def test_a_broken_rules_folder_stops_the_code_location_from_loading(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    channels = rules / "channels.yml"
    channels.write_text(channels.read_text().replace("percent: 40", "percent: 90"))
    env = {**os.environ, "INVENTORY_RULES_DIR": str(rules)}
    out = subprocess.run(
        [sys.executable, "-c", PRINT_VERSIONS], env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "RulesError" in out.stderr
    assert "channels.yml: channels.*.allocation.percent" in out.stderr
