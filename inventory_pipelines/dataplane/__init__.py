"""The data plane: table assets as Parquet files, and the DuckDB catalog analysts query."""

from inventory_pipelines.dataplane.catalog import query, rebuild_catalog
from inventory_pipelines.dataplane.store import TableStore

__all__ = ["TableStore", "query", "rebuild_catalog"]
