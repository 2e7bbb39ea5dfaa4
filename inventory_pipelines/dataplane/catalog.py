"""`warehouse.duckdb`: a catalog of views over the Parquet tables, rebuilt atomically.

Analysts open it read-only. A rebuild writes a new file and renames it over the old one, so no
run waits on an analyst's open connection and no analyst sees a half-built catalog.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from inventory_pipelines.dataplane.store import TableStore


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def rebuild_catalog(store: TableStore, catalog_path: str | os.PathLike[str]) -> list[str]:
    """Recreate the catalog with one view per table (`layer.name`); return the view names."""
    target = Path(catalog_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # DuckDB must create the file itself
    views = []
    try:
        with duckdb.connect(tmp) as con:
            for key, partitioned in store.tables():
                schema, name = key
                source = store.path(key, "*") if partitioned else store.path(key)
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(schema)}")
                con.execute(
                    f"CREATE OR REPLACE VIEW {_quote_ident(schema)}.{_quote_ident(name)} AS "
                    f"SELECT * FROM read_parquet({_quote_literal(str(source))}, "
                    "union_by_name = true)"
                )
                views.append(f"{schema}.{name}")
            con.execute("CHECKPOINT")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
        Path(tmp + ".wal").unlink(missing_ok=True)
    return views


def query(catalog_path: str | os.PathLike[str], sql: str) -> pl.DataFrame:
    """Run one SQL statement on the catalog, read-only, and return the result as a frame."""
    path = Path(catalog_path)
    if not path.exists():
        raise FileNotFoundError(
            f"no catalog at {path}: materialize the assets first (the catalog is rebuilt after "
            "each run that writes a table)"
        )
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql).pl()
