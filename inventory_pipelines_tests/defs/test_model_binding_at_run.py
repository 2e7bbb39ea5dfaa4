"""A model that does not bind against its inputs fails its run with the message `rules check`
gives: the file, the line, DuckDB's message and the fix, not a bare DuckDB traceback."""

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.defs.rules.assets import build_model_assets

TABLES = {"canonical_inventory": ["inventory", "canonical_inventory"]}


@dg.asset(key=["inventory", "canonical_inventory"])
def canonical_inventory() -> pl.DataFrame:
    return pl.DataFrame({"sku": ["A"], "warehouse": ["MAIN"], "available": [5.0]})


@pytest.mark.bad_input
def test_a_model_naming_a_column_its_input_lacks_fails_naming_the_file_and_line(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "colours.sql").write_text(
        "SELECT\n    sku,\n    colour\nFROM {{ ref('canonical_inventory') }}"
    )
    assets = build_model_assets(tmp_path, TABLES)
    result = dg.materialize([canonical_inventory, *assets], raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description.startswith(
        'models/colours.sql: line 3: Binder Error: Referenced column "colour" not found in '
        "FROM clause! (fix: use a column the model reads, e.g."
    )
