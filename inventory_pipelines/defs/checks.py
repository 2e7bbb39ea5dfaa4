"""Turning pandera validations into Dagster asset checks."""

from collections.abc import Sequence

import dagster as dg
import pandera.polars as pa
import polars as pl

from inventory_pipelines.inventory.schemas import validate

SCHEMA_CHECK = "schema"


def schema_check_spec(
    asset_key: Sequence[str], schema: type[pa.DataFrameModel]
) -> dg.AssetCheckSpec:
    """A blocking check: downstream assets do not run on a table that breaks its schema."""
    return dg.AssetCheckSpec(
        SCHEMA_CHECK,
        asset=dg.AssetKey(list(asset_key)),
        blocking=True,
        description=f"{schema.__name__}: {(schema.__doc__ or '').strip()}",
    )


def schema_check_result(
    asset_key: Sequence[str], schema: type[pa.DataFrameModel], frame: pl.DataFrame
) -> dg.AssetCheckResult:
    """Validate `frame` and report every failure (a sample of the failing rows as metadata)."""
    outcome = validate(schema, frame)
    metadata: dict[str, object] = {"summary": outcome.summary, "rows": frame.height}
    if not outcome.passed:
        sample = outcome.failure_cases.head(20)
        metadata["failure_cases"] = dg.MetadataValue.md(_markdown(sample))
        metadata["failure_count"] = outcome.failure_cases.height
    return dg.AssetCheckResult(
        check_name=SCHEMA_CHECK,
        asset_key=dg.AssetKey(list(asset_key)),
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def _markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])


def preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """The first rows of a table, for the asset's page in the UI."""
    return dg.MetadataValue.md(_markdown(frame.head(rows)))
