"""`rules check` parses and binds every SQL model against the tables' columns, without data:
a model that would fail every run is named, with DuckDB's message and the line, before one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.rules import default_rules_dir, load_policy
from inventory_pipelines.rules.models import (
    TABLE_ASSETS,
    TABLE_COLUMNS,
    bind_models,
    load_models,
    model_binding_issues,
)


def check(rules_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["rules", "check", str(rules_dir)])
    return result.exit_code, result.output


def model(rules_dir: Path, name: str, sql: str) -> None:
    (rules_dir / "models" / f"{name}.sql").write_text(sql)


def test_the_shipped_models_bind_and_the_shipped_folder_checks_clean():
    assert bind_models(load_models(default_rules_dir())) == []
    code, output = check(default_rules_dir())
    assert code == 0, output
    assert output.startswith("rules OK:")


@pytest.mark.bad_input
def test_a_model_that_does_not_parse_is_named_with_its_line(rules_dir):
    model(
        rules_dir,
        "broken",
        "-- what is in quarantine\nSELECT reason, count(*) AS n\nFORM {{ ref('quarantine') }}\n",
    )
    code, output = check(rules_dir)
    assert code == 1
    assert (
        'models/broken.sql: line 3: Parser Error: syntax error at or near "FORM" '
        "(fix: correct the SQL syntax)"
    ) in output
    assert "Traceback" not in output


@pytest.mark.bad_input
def test_a_model_naming_a_column_no_table_has_is_named_with_the_columns_it_could_mean(rules_dir):
    model(
        rules_dir, "colours", "SELECT\n    sku,\n    colour\nFROM {{ ref('canonical_inventory') }}"
    )
    code, output = check(rules_dir)
    assert code == 1
    assert (
        'models/colours.sql: line 3: Binder Error: Referenced column "colour" not found in '
        "FROM clause! (fix: use a column the model reads, e.g."
    ) in output


def test_a_column_a_model_reads_from_another_model_binds_against_that_models_result(rules_dir):
    model(rules_dir, "fast", "SELECT sku FROM {{ ref('sku_velocity') }} WHERE units_per_day > 5")
    model(rules_dir, "slow_sellers", "SELECT sku, speed FROM {{ ref('sku_velocity') }}")
    (issue,) = model_binding_issues(rules_dir)
    assert (issue.file, issue.key_path) == ("models/slow_sellers.sql", "line 1")
    assert 'Referenced column "speed" not found' in issue.message


@pytest.mark.bad_input
def test_a_table_read_without_ref_and_a_type_mismatch_are_refused(rules_dir):
    model(rules_dir, "raw", "SELECT sku FROM canonical_inventory")
    model(rules_dir, "typed", "SELECT sku + 1 AS next FROM {{ ref('canonical_inventory') }}")
    issues = {i.file: i for i in model_binding_issues(rules_dir)}
    assert set(issues) == {"models/raw.sql", "models/typed.sql"}
    assert issues["models/raw.sql"].message == (
        "Catalog Error: Table with name canonical_inventory does not exist!"
    )
    assert issues["models/raw.sql"].fix == "write {{ ref('canonical_inventory') }}"
    assert issues["models/typed.sql"].message.startswith(
        "Binder Error: No function matches the given name and argument types '+(VARCHAR"
    )


def test_a_model_reading_a_broken_model_is_not_reported_again(rules_dir):
    model(rules_dir, "base", "SELECT sku, nope FROM {{ ref('canonical_inventory') }}")
    model(rules_dir, "derived", "SELECT count(*) AS n FROM {{ ref('base') }}")
    assert [i.file for i in model_binding_issues(rules_dir)] == ["models/base.sql"]


def test_an_unknown_ref_is_reported_once_by_the_loader_not_again_by_the_binding(rules_dir):
    model(rules_dir, "lost", "SELECT * FROM {{ ref('nowhere') }}")
    assert model_binding_issues(rules_dir) == []
    code, output = check(rules_dir)
    assert code == 1
    assert output.count("models/lost.sql") == 1
    assert "models/lost.sql: ref('nowhere'): unknown model or table 'nowhere'" in output


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("", "no statements"),
        ("SELECT 1 AS a; SELECT 2 AS b", "2 statements"),
        ("CREATE TABLE t AS SELECT 1 AS a", "a CREATE statement"),
    ],
)
@pytest.mark.bad_input
def test_a_model_is_one_select(rules_dir, sql, found):
    model(rules_dir, "odd", sql)
    (issue,) = model_binding_issues(rules_dir)
    assert issue.file == "models/odd.sql"
    assert issue.message == f"a model is one SELECT statement, this file has {found}"


@pytest.mark.bad_input
def test_a_yaml_test_of_a_column_the_model_does_not_return_is_refused(rules_dir):
    model(
        rules_dir,
        "counts",
        "SELECT warehouse, count(*) AS n FROM {{ ref('canonical_inventory') }} GROUP BY 1",
    )
    (rules_dir / "models" / "counts.yml").write_text(
        "models:\n  - name: counts\n    columns:\n      - name: colour\n        tests: [not_null]\n"
    )
    (issue,) = model_binding_issues(rules_dir)
    assert (issue.file, issue.key_path) == ("models", "counts.tests.colour__not_null")
    assert 'Referenced column "colour" not found' in issue.message


def test_problems_in_rule_files_and_in_models_are_listed_together(rules_dir):
    (rules_dir / "warehouses.yml").write_text("warehouses:\n  - code: MAIN\n    x: 1\n")
    model(rules_dir, "colours", "SELECT colour FROM {{ ref('products') }}")
    code, output = check(rules_dir)
    assert code == 1
    assert "warehouses.yml: warehouses.0.x" in output
    assert "models/colours.sql: line 1: Binder Error" in output


@pytest.mark.bad_input
def test_rules_check_given_a_file_says_it_takes_the_folder_in_one_line(rules_dir):
    result = CliRunner().invoke(main, ["rules", "check", str(rules_dir / "channels.yml")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"{rules_dir / 'channels.yml'} is a file: `rules check` takes the rules folder, "
        f"e.g. inventory-sync rules check {rules_dir}"
    ]
    assert "missing" not in result.output


def test_the_columns_models_bind_against_are_those_the_table_assets_write():
    """`TABLE_COLUMNS` is a copy: it must follow the frames the producers build."""
    import duckdb

    from inventory_pipelines.allocation.engine import allocate
    from inventory_pipelines.inventory.canonical import CANONICAL_SCHEMA, QUARANTINE_SCHEMA
    from inventory_pipelines.inventory.locations import assign_location_roles
    from inventory_pipelines.odoo.moves import MOVES_SCHEMA
    from inventory_pipelines.odoo.snapshot import LOCATIONS_SCHEMA, PRODUCTS_SCHEMA, QUANTS_SCHEMA
    from inventory_pipelines.supply.threepl import THREEPL_STOCK_SCHEMA, apply_threepl_stock

    policy = load_policy()
    # what the asset writes: the 3PL feeds applied (`odoo_on_hand` beside `on_hand`)
    canonical = apply_threepl_stock(
        pl.DataFrame(schema=CANONICAL_SCHEMA),
        pl.DataFrame(schema=THREEPL_STOCK_SCHEMA),
        policy.warehouses,
    )
    universe = pl.DataFrame(schema={"sku": pl.Utf8, "velocity_tier": pl.Utf8})
    frames = {
        "products": pl.DataFrame(schema=PRODUCTS_SCHEMA),
        "locations": assign_location_roles(
            pl.DataFrame(schema=LOCATIONS_SCHEMA), policy.warehouses
        ),
        "stock_quants": pl.DataFrame(schema=QUANTS_SCHEMA),
        # the `stock_moves` asset joins the SKU and both locations' usage onto the moves
        "stock_moves": pl.DataFrame(schema=MOVES_SCHEMA).with_columns(
            sku=pl.lit(None, pl.Utf8),
            source_usage=pl.lit(None, pl.Utf8),
            destination_usage=pl.lit(None, pl.Utf8),
        ),
        "canonical_inventory": canonical,
        "quarantine": pl.DataFrame(schema=QUARANTINE_SCHEMA),
        "channel_allocation": allocate(
            canonical, policy, datetime.now(UTC), skus=universe
        ).with_columns(pl.col("channel").cast(pl.Utf8)),
    }
    assert set(TABLE_COLUMNS) == set(TABLE_ASSETS) == set(frames)
    with duckdb.connect() as con:
        for name, frame in frames.items():
            con.register("frame", frame)
            written = dict(
                con.execute("SELECT column_name, column_type FROM (DESCRIBE frame)").fetchall()
            )
            con.unregister("frame")
            assert TABLE_COLUMNS[name] == written, name
