"""The data plane: table assets as Parquet files (in a local folder or on object storage), and
the DuckDB catalog analysts query."""

from inventory_pipelines.dataplane.catalog import (
    QueryRefused,
    query,
    rebuild_catalog,
    refresh_catalog,
)
from inventory_pipelines.dataplane.store import ObjectTableStore, TableStore, WriteConflict

__all__ = [
    "ObjectTableStore",
    "QueryRefused",
    "TableStore",
    "WriteConflict",
    "query",
    "rebuild_catalog",
    "refresh_catalog",
]
