"""`warehouse.duckdb`: a catalog of views over the Parquet tables, rebuilt atomically.

Analysts open it read-only. A rebuild writes a new file and renames it over the old one, so no
run waits on an analyst's open connection and no analyst sees a half-built catalog.
"""

from __future__ import annotations

import os
import re
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
                source = (store.path(key, "*") if partitioned else store.path(key)).absolute()
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


class QueryRefused(ValueError):
    """A statement the analysts' SQL does not run: it could write, or reach outside the tables."""


#: What an analyst's statement may be: a query (SHOW, DESCRIBE, SUMMARIZE and FROM-first
#: queries parse as SELECT too) or its plan. COPY, ATTACH, INSTALL, SET, CREATE... are refused.
_READING = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


def query(
    catalog_path: str | os.PathLike[str],
    sql: str,
    *,
    tables_dir: str | os.PathLike[str] | None = None,
) -> pl.DataFrame:
    """Run one read-only statement on the catalog and return the result as a frame.

    The connection is read-only, and DuckDB's external access is off (locked), but for the
    folder of the Parquet tables (`tables_dir`) the views read: no file outside it can be read,
    no database attached, no extension installed. Only a query or its EXPLAIN is run, so
    nothing (a COPY over a table's Parquet file, say) can be written.
    """
    path = Path(catalog_path)
    if not path.exists():
        raise FileNotFoundError(
            f"no catalog at {path}: materialize the assets first (the catalog is rebuilt after "
            "each run that writes a table)"
        )
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1:
        raise QueryRefused(f"give one SQL statement, not {len(statements)}")
    kind = statements[0].type
    if kind not in _READING:
        raise QueryRefused(
            f"only queries are run here (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN), not {kind.name}"
        )
    with duckdb.connect(str(path), read_only=True) as con:
        folder = str(Path(tables_dir).resolve()) if tables_dir is not None else _read_folder(con)
        if folder:
            con.execute(f"SET allowed_directories = [{_quote_literal(folder)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con.sql(sql).pl()


def _read_folder(con: duckdb.DuckDBPyConnection) -> str | None:
    """The one folder the catalog's views read their Parquet files from (None: no view)."""
    texts = [
        row[0]
        for row in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
    ]
    paths = [m.group(1).replace("''", "'") for t in texts for m in _PARQUET.finditer(t)]
    if not paths:
        return None
    return os.path.commonpath([str(Path(p).parent) for p in paths])


_PARQUET = re.compile(r"read_parquet\('((?:[^']|'')*)'")
