"""`warehouse.duckdb`: the analysts' catalog of the Parquet tables, rebuilt atomically.

Analysts open it read-only. A rebuild writes a new file and renames it over the old one, so no
run waits on an analyst's open connection and no analyst sees a half-built catalog.

It is written in DuckDB's v1.0.0 storage format (`STORAGE_VERSION`), which every DuckDB since
1.0 reads: DuckDB 2 writes its own v2 format by default, which the DuckDB CLI 1.x and every
tool built on DuckDB 1.x refuse ("database file with version number 69, but we can only read
versions between 64 and 68").

On a local data plane each table is a view over its Parquet files by their absolute path, so
the catalog opens from any working directory in any tool (DuckDB resolves a relative path from
the process's working directory, never from the catalog's folder); a moved folder is pointed
at again by the next rebuild (any run, or `inventory-sync catalog rebuild`). On object
storage (`s3://`) DuckDB would need its httpfs extension to read the files, which is not
installed here, so each table is copied into the catalog instead (read through obstore). The
`analytics` schema adds the analysts' first
questions (`analytics.VIEWS`). A catalog named `s3://bucket/key` is built in a local temporary
folder and uploaded whole (one PUT: readers get the old one or the new one).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import duckdb
import obstore
import polars as pl

from inventory_pipelines.dataplane import analytics
from inventory_pipelines.dataplane.analytics import VIEWS
from inventory_pipelines.dataplane.objects import is_object_uri, s3_store
from inventory_pipelines.dataplane.store import ObjectTableStore, TableStore

#: the storage format of the catalog: every DuckDB since 1.0 reads it
STORAGE_VERSION = "v1.0.0"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def views_root(catalog_path: str | os.PathLike[str]) -> Path:
    """The folder a local catalog's view paths are relative to: the one above its folder."""
    return Path(catalog_path).resolve().parent.parent


def refresh_catalog(store: TableStore, catalog_path: str | os.PathLike[str]) -> bool:
    """Rebuild the catalog after a write only when it would change: a local catalog's views
    read their tables' files by name (a partitioned table by a glob), so a table rewritten in
    place needs none; a new table, a folder moved or a new version of this module does.
    A catalog of copies (object storage) is rebuilt every time. Whether it rebuilt."""
    local = not is_object_uri(str(catalog_path)) and not isinstance(store, ObjectTableStore)
    signature = _signature(store) if local else None
    sidecar = Path(str(catalog_path) + ".tables") if local else None
    if (
        sidecar is not None
        and Path(catalog_path).exists()
        and sidecar.exists()
        and sidecar.read_text() == signature
    ):
        return False
    rebuild_catalog(store, catalog_path)
    if sidecar is not None and signature is not None:
        tmp = sidecar.with_name(sidecar.name + f".{os.getpid()}.tmp")
        tmp.write_text(signature)
        os.replace(tmp, sidecar)
    return True


def _signature(store: TableStore) -> str:
    """What a local catalog's views depend on: the tables, their folder, the views' code."""
    tables = [["/".join(key), partitioned] for key, partitioned in store.tables()]
    return json.dumps({"base": str(store.base), "code": _CODE_VERSION, "tables": tables})


#: this module's and the analytics views' code: a new version of either rebuilds the catalog
_CODE_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + inspect.getsource(analytics).encode()
).hexdigest()


def rebuild_catalog(store: TableStore, catalog_path: str | os.PathLike[str]) -> list[str]:
    """Recreate the catalog: one view (or, on object storage, table) per table, `layer.name`,
    and the `analytics` views; return their names."""
    if is_object_uri(str(catalog_path)):
        with tempfile.TemporaryDirectory(prefix="catalog-") as folder:
            built = Path(folder) / "warehouse.duckdb"
            names = _build(store, built)
            _upload(built, str(catalog_path))
        return names
    target = Path(catalog_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # DuckDB must create the file itself
    try:
        names = _build(store, Path(tmp))
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
        Path(tmp + ".wal").unlink(missing_ok=True)
    return names


def _build(store: TableStore, path: Path) -> list[str]:
    config = {"storage_compatibility_version": STORAGE_VERSION}
    names = []
    with duckdb.connect(str(path), config=config) as con:
        for key, partitioned in store.tables():
            schema, name = key
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(schema)}")
            target = f"{_quote_ident(schema)}.{_quote_ident(name)}"
            if isinstance(store, ObjectTableStore):
                _copy_table(con, store, key, partitioned, target)
            else:
                source = _view_path(store, key, partitioned)
                con.execute(
                    f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM read_parquet("
                    f"{_quote_literal(source)}, union_by_name = true)"
                )
            names.append(f"{schema}.{name}")
        names += _analytics(con, set(names))
        con.execute("CHECKPOINT")
    return names


def _view_path(store: TableStore, key: tuple[str, ...], partitioned: bool) -> str:
    source = store.path(key, "*") if partitioned else store.path(key)
    return str(source.absolute())


def _copy_table(
    con: duckdb.DuckDBPyConnection,
    store: TableStore,
    key: tuple[str, ...],
    partitioned: bool,
    target: str,
) -> None:
    parts = [store.read(key, p) for p in store.partitions(key)] if partitioned else []
    frame = pl.concat(parts, how="diagonal_relaxed") if parts else store.read(key)
    con.register("_copied", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM _copied")
    finally:
        con.unregister("_copied")


def _analytics(con: duckdb.DuckDBPyConnection, present: set[str]) -> list[str]:
    made = []
    for view in VIEWS:
        if not set(view.reads) <= present:
            continue
        con.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        try:
            con.execute(f"CREATE OR REPLACE VIEW analytics.{_quote_ident(view.name)} AS {view.sql}")
        except duckdb.BinderException:
            continue  # a table without the columns it reads (not one the assets wrote)
        con.execute(
            f"COMMENT ON VIEW analytics.{_quote_ident(view.name)} IS {_quote_literal(view.comment)}"
        )
        made.append(f"analytics.{view.name}")
    return made


def _split(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b.duckdb` as the bucket's URI and the key in it."""
    parsed = urlparse(uri)
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")


def _upload(path: Path, uri: str) -> None:
    bucket, key = _split(uri)
    obstore.put(s3_store(bucket), key, path.read_bytes())


def _download(uri: str, path: Path) -> None:
    bucket, key = _split(uri)
    try:
        got = obstore.get(s3_store(bucket), key)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no catalog at {uri}: materialize the assets first (the catalog is rebuilt after "
            "each run that writes a table)"
        ) from None
    path.write_bytes(bytes(got.bytes()))


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
    folder of the Parquet tables (`tables_dir`, by default the one the views read): no file
    outside it can be read, no database attached, no extension installed. Only a query or its
    EXPLAIN is run, so nothing (a COPY over a table's Parquet file, say) can be written. A
    catalog on object storage is fetched first; its tables are in it, so it reads no file.
    """
    remote = is_object_uri(str(catalog_path))
    if not remote and not Path(catalog_path).exists():
        raise FileNotFoundError(
            f"no catalog at {catalog_path}: materialize the assets first (the catalog is "
            "rebuilt after each run that writes a table)"
        )
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1:
        raise QueryRefused(f"give one SQL statement, not {len(statements)}")
    kind = statements[0].type
    if kind not in _READING:
        raise QueryRefused(
            f"only queries are run here (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN), not {kind.name}"
        )
    if not remote:
        return _run(Path(catalog_path), sql, tables_dir)
    with tempfile.TemporaryDirectory(prefix="catalog-") as folder:
        local = Path(folder) / "warehouse.duckdb"
        _download(str(catalog_path), local)
        return _run(local, sql, None)


def _run(path: Path, sql: str, tables_dir: str | os.PathLike[str] | None) -> pl.DataFrame:
    root = views_root(path)
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute(f"SET file_search_path = {_quote_literal(str(root))}")
        folder = Path(tables_dir).resolve() if tables_dir is not None else _read_folder(con, root)
        if folder is not None:
            # a view names its files relative to `root` or absolutely: allow both spellings
            allowed = [str(folder)]
            if folder.is_relative_to(root):
                allowed.append(PurePosixPath(folder.relative_to(root)).as_posix())
            con.execute(
                "SET allowed_directories = ["
                + ", ".join(_quote_literal(a.rstrip("/") + "/") for a in allowed)
                + "]"
            )
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con.sql(sql).pl()


def _read_folder(con: duckdb.DuckDBPyConnection, root: Path) -> Path | None:
    """The one folder the catalog's views read their Parquet files from (None: no view)."""
    texts = [
        row[0]
        for row in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
    ]
    paths = [m.group(1).replace("''", "'") for t in texts for m in _PARQUET.finditer(t)]
    if not paths:
        return None
    return Path(os.path.commonpath([str((root / p).parent) for p in paths]))


_PARQUET = re.compile(r"read_parquet\('((?:[^']|'')*)'")
