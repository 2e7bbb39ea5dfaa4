"""`rules/*`: one asset per SQL model in `dbt_like_rules/models/`, its YAML tests as checks."""

import dagster as dg
import duckdb
import polars as pl

from inventory_pipelines.defs.checks import preview
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN
from inventory_pipelines.defs.shared import POLICY
from inventory_pipelines.rules.models import TABLE_ASSETS, SqlModel, load_models, sql_issue

TABLES: dict[str, list[str]] = {name: list(key) for name, key in TABLE_ASSETS.items()}


def _relation(ref: str) -> str:
    return f'"ref__{ref}"'


def build_model_asset(model: SqlModel, tables: dict[str, list[str]]) -> dg.AssetsDefinition:
    """The asset `rules/<name>`: depends on its refs, runs the SQL in DuckDB, checks its tests."""
    key = dg.AssetKey(["rules", model.name])
    ins = {ref: dg.AssetIn(key=tables.get(ref, ["rules", ref])) for ref in model.refs}
    first_comment = next(
        (line.strip("- ").strip() for line in model.sql.splitlines() if line.startswith("--")), ""
    )

    @dg.asset(
        key=key,
        ins=ins,
        group_name="rules",
        kinds={"duckdb", "sql", "parquet"},
        code_version=model.version,
        description=model.description or first_comment or f"SQL model {model.name}",
        metadata={SCOPE_COLUMN: "sku"} if model.sku_scoped else {},
        check_specs=[
            dg.AssetCheckSpec(t.name, asset=key, blocking=t.blocking, description=t.description)
            for t in model.tests
        ],
    )
    def _model(context: dg.AssetExecutionContext, **inputs: pl.DataFrame):
        with duckdb.connect() as con:
            for ref, frame in inputs.items():
                con.register(f"ref__{ref}", frame)
            sql = model.render(_relation)
            try:  # parse and bind against the inputs first: fail as `rules check` says it
                con.execute(f"EXPLAIN {sql}")
            except duckdb.Error as exc:
                raise dg.Failure(str(sql_issue(f"models/{model.path.name}", exc))) from exc
            result = con.sql(sql).pl()
            con.register("model_result", result)
            yield dg.Output(
                result,
                metadata={
                    "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
                    "preview": preview(result),
                },
            )
            for test in model.tests:
                failing = con.execute(test.failing_sql("model_result")).fetchone()[0]
                yield dg.AssetCheckResult(
                    check_name=test.name,
                    asset_key=key,
                    passed=failing == 0,
                    severity=dg.AssetCheckSeverity.ERROR
                    if test.blocking
                    else dg.AssetCheckSeverity.WARN,
                    metadata={"failing_rows": int(failing), "sql": test.failing_sql("result")},
                )

    return _model


def build_model_assets(root, tables: dict[str, list[str]] = TABLES) -> list[dg.AssetsDefinition]:
    """Every model of the rules folder as an asset (raises `RulesError` on a broken folder)."""
    return [build_model_asset(m, tables) for m in load_models(root, tables)]


@dg.definitions
def defs() -> dg.Definitions:
    """The SQL models of `dbt_like_rules/models/`."""
    return dg.Definitions(assets=build_model_assets(POLICY.root))
