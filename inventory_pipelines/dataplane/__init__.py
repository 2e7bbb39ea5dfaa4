"""The data plane: table assets as Parquet files, and the DuckDB catalog analysts query."""

from inventory_pipelines.dataplane.catalog import QueryRefused, query, rebuild_catalog
from inventory_pipelines.dataplane.store import TableStore

__all__ = ["QueryRefused", "TableStore", "query", "rebuild_catalog"]
