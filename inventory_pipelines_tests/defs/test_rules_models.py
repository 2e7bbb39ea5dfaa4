"""SQL models become assets (deps from `ref`), their YAML tests become asset checks."""

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.defs.rules.assets import build_model_assets
from inventory_pipelines.rules import RulesError

TABLES = {"canonical_inventory": ["inventory", "canonical_inventory"]}


@dg.asset(key=["inventory", "canonical_inventory"])
def canonical_inventory() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "warehouse": ["MAIN", "MAIN", "EAST"],
            "available": [5.0, 0.0, 7.0],
        }
    )


def write_models(root, sql: dict[str, str], schema: str) -> None:
    models = root / "models"
    models.mkdir(parents=True)
    for name, text in sql.items():
        (models / f"{name}.sql").write_text(text)
    (models / "schema.yml").write_text(schema)


SQL = {
    "in_stock": "SELECT sku, available FROM {{ ref('canonical_inventory') }} WHERE available > 0",
    "in_stock_count": "SELECT count(*) AS n FROM {{ ref('in_stock') }}",
}
SCHEMA = """
models:
  - name: in_stock
    columns:
      - name: sku
        tests: [not_null, unique]
      - name: available
        tests:
          - accepted_range: {min: %s}
  - name: in_stock_count
    tests:
      - expression: "n = 2"
        name: two_skus_in_stock
"""


def test_a_model_with_a_ref_and_a_yaml_test_loads_as_an_asset_with_checks(tmp_path):
    write_models(tmp_path, SQL, SCHEMA % 1)
    assets = {a.key.to_user_string(): a for a in build_model_assets(tmp_path, TABLES)}
    assert set(assets) == {"rules/in_stock", "rules/in_stock_count"}
    in_stock = assets["rules/in_stock"]
    assert set(in_stock.keys_by_input_name.values()) == {
        dg.AssetKey(["inventory", "canonical_inventory"])
    }
    assert set(assets["rules/in_stock_count"].keys_by_input_name.values()) == {
        dg.AssetKey(["rules", "in_stock"])
    }
    assert {c.name for c in in_stock.check_specs} == {
        "sku__not_null",
        "sku__unique",
        "available__accepted_range",
    }
    result = dg.materialize([canonical_inventory, *assets.values()])
    assert result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {
        "sku__not_null": True,
        "sku__unique": True,
        "available__accepted_range": True,
        "two_skus_in_stock": True,
    }
    assert result.output_for_node("rules__in_stock")["sku"].to_list() == ["A", "C"]


def test_a_failing_yaml_test_fails_its_check_and_blocks_downstream(tmp_path):
    write_models(tmp_path, SQL, SCHEMA % 6)  # C has 7, A has 5: one row below the range
    assets = build_model_assets(tmp_path, TABLES)
    result = dg.materialize([canonical_inventory, *assets], raise_on_error=False)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.check_name, e.metadata["failing_rows"].value) for e in failed] == [
        ("available__accepted_range", 1)
    ]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "rules/in_stock_count" not in materialized
    assert not result.success


def test_changing_the_sql_changes_the_code_version(tmp_path):
    write_models(tmp_path, SQL, SCHEMA % 1)
    before = {a.key: a.code_versions_by_key[a.key] for a in build_model_assets(tmp_path, TABLES)}
    (tmp_path / "models" / "in_stock.sql").write_text(SQL["in_stock"].replace("> 0", ">= 0"))
    after = {a.key: a.code_versions_by_key[a.key] for a in build_model_assets(tmp_path, TABLES)}
    in_stock = dg.AssetKey(["rules", "in_stock"])
    count = dg.AssetKey(["rules", "in_stock_count"])
    assert before[in_stock] != after[in_stock]
    assert before[count] == after[count]


def test_a_cycle_between_models_is_refused(tmp_path):
    write_models(
        tmp_path,
        {"a": "SELECT * FROM {{ ref('b') }}", "b": "SELECT * FROM {{ ref('a') }}"},
        "models: []\n",
    )
    with pytest.raises(RulesError, match="cycle"):
        build_model_assets(tmp_path, TABLES)
