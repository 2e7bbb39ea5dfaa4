"""Parquet tables under one base (a local folder or an `s3://` prefix), written atomically,
read whole or for a SKU subset."""

from __future__ import annotations

import fcntl
import io
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import obstore
import polars as pl
from obstore.exceptions import AlreadyExistsError, PreconditionError

from inventory_pipelines.dataplane.objects import is_object_uri, s3_store

#: `change(current)` of `TableStore.update`: the new table from the current one (None: none yet)
Change = Callable[[pl.LazyFrame | None], pl.DataFrame]


@contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `lock_path` (created if missing) until the block ends.

    Blocks until no other holder (thread or process) has it: each call opens its own file
    description, so threads of one process exclude each other too. POSIX and local filesystem
    only: flock is advisory and not reliable on NFS/SMB mounts (object storage bases use
    conditional writes instead: `ObjectTableStore.update`). The lock file is left in place
    (deleting it would race).
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class TableStore:
    """Table `layer/name` (optionally one partition of it) lives at one Parquet file.

    Writes go to a temporary file in the same folder and are renamed into place, so a reader
    (another run, DuckDB, an analyst) sees the old table or the new one, never half of one.
    `TableStore("s3://bucket/prefix")` gives an `ObjectTableStore`, the same tables on object
    storage.
    """

    def __new__(cls, base_dir: str | os.PathLike[str]) -> TableStore:
        """The store for `base_dir`: this class for a folder, `ObjectTableStore` for `s3://`."""
        if cls is TableStore and is_object_uri(base_dir):
            return super().__new__(ObjectTableStore)
        return super().__new__(cls)

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        base = str(base_dir)
        if "://" in base and not base.startswith("file://"):
            raise ValueError(
                f"data plane base {base.split('://')[0]}://... is not supported; "
                "use a local or mounted folder, or s3://bucket/prefix"
            )
        self.base = Path(base.removeprefix("file://")).expanduser().resolve()

    def relative(self, key: Sequence[str], partition: str | None = None) -> str:
        """The table's (or partition's) place under the base, `/`-separated."""
        name = f"{key[-1]}.parquet" if partition is None else f"{key[-1]}/{partition}.parquet"
        return "/".join([*key[:-1], name])

    def uri(self, key: Sequence[str], partition: str | None = None) -> str:
        """Where the table (or partition) is, as a person or another tool names it."""
        return str(self.path(key, partition))

    def path(self, key: Sequence[str], partition: str | None = None) -> Path:
        """Where the table (or its partition) is stored."""
        folder = self.base.joinpath(*key[:-1])
        if partition is None:
            return folder / f"{key[-1]}.parquet"
        return folder / key[-1] / f"{partition}.parquet"

    def lock_path(self, key: Sequence[str], partition: str | None = None) -> Path:
        """The lock file of the table (or partition): under `.locks/`, mirroring its path.

        Kept out of the table folders so they hold only tables (for globs, DuckDB, analysts).
        """
        relative = self.path(key, partition).relative_to(self.base)
        return self.base / ".locks" / relative.with_name(f"{relative.name}.lock")

    def exists(self, key: Sequence[str], partition: str | None = None) -> bool:
        """Whether the table (or partition) has been written."""
        return self.path(key, partition).exists()

    def partitions(self, key: Sequence[str]) -> list[str]:
        """The partitions of a partitioned table that have been written, sorted."""
        folder = self.path(key, "x").parent
        return sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []

    def scan(self, key: Sequence[str], partition: str | None = None) -> pl.LazyFrame:
        """The table as a lazy frame, for a query that reads a few columns or rows of it."""
        return pl.scan_parquet(self.path(key, partition))

    def read(
        self,
        key: Sequence[str],
        partition: str | None = None,
        skus: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The whole table, or only the rows of `skus` (pushed down into the Parquet scan)."""
        path = self.path(key, partition)
        if not path.exists():
            raise FileNotFoundError(
                f"table {'/'.join(key)}{f'[{partition}]' if partition else ''} has not been "
                f"materialized yet (expected {path})"
            )
        # Scan an open handle, not the path: polars opens a path more than once (metadata, then
        # row groups), so a write renamed in between made it mix two files (corrupt-page errors,
        # panics). The handle pins the file this read started on.
        with open(path, "rb") as handle:
            return _collect(pl.scan_parquet(handle), skus)

    def write(
        self,
        key: Sequence[str],
        frame: pl.DataFrame,
        partition: str | None = None,
        *,
        replace_skus: Sequence[str] | None = None,
        sort_by: Sequence[str] = (),
    ) -> pl.DataFrame:
        """Write the table atomically and return what was written.

        With `replace_skus`, only those SKUs' rows are replaced: the rest of the current table
        is kept, so a partial refresh upserts into the same table a full refresh writes.

        Concurrency: the read of the current table, the merge, the write and the rename run
        under an exclusive lock on that table (per partition file; see `file_lock` and
        `lock_path`), taken by
        full writes too, so concurrent writers (threads or processes) are serialized and no
        subset writer puts back rows another writer has just replaced: no lost update. The
        order is the order the lock is acquired, not the order the data was read upstream: a
        run that read Odoo earlier but writes later still wins for its own SKUs (last writer
        wins per SKU). The lock is POSIX `flock` on a local filesystem (object storage: see
        `ObjectTableStore`). Readers take no lock: the atomic rename already gives them the old
        table or the new one.
        """
        return self.update(key, _merged(frame, replace_skus, sort_by), partition)

    def update(
        self, key: Sequence[str], change: Change, partition: str | None = None
    ) -> pl.DataFrame:
        """Replace the table (or partition) by `change(current)`, atomically; return it.

        `change` gets the current table (lazy; None if there is none) and returns the new one;
        no other writer of the table runs between that read and this write (the table's lock).
        """
        path = self.path(key, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock_path(key, partition)):
            frame = change(pl.scan_parquet(path) if path.exists() else None)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            try:
                frame.write_parquet(tmp, compression="zstd", statistics=True)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return frame

    def tables(self) -> list[tuple[tuple[str, ...], bool]]:
        """Every stored table as (key, partitioned)."""
        found: dict[tuple[str, ...], bool] = {}
        if not self.base.exists():
            return []
        for path in sorted(self.base.rglob("*.parquet")):
            rel = path.relative_to(self.base).parts
            if len(rel) == 2:
                found[(rel[0], rel[1].removesuffix(".parquet"))] = False
            elif len(rel) == 3:
                found[(rel[0], rel[1])] = True
        return sorted(found.items())


def _collect(scan: pl.LazyFrame, skus: Sequence[str] | None) -> pl.DataFrame:
    """The scanned table, or only the rows of `skus` (the filter pushed into the scan)."""
    if skus is not None:
        scan = scan.filter(pl.col("sku").is_in(list(skus)))
    return scan.collect()


def _merged(
    frame: pl.DataFrame, replace_skus: Sequence[str] | None, sort_by: Sequence[str]
) -> Change:
    """The change a write makes: `frame`, plus the current rows of other SKUs for a subset."""

    def change(current: pl.LazyFrame | None) -> pl.DataFrame:
        merged = frame
        if replace_skus is not None and current is not None:
            kept = current.filter(
                ~pl.col("sku").is_in(list(replace_skus)) | pl.col("sku").is_null()
            )
            # a table written by an older version of the asset may lack a column added since
            # (null for its other SKUs until the next full refresh) or hold one dropped since
            merged = pl.concat([kept.collect(), frame], how="diagonal_relaxed").select(
                frame.columns
            )
        if sort_by:
            merged = merged.sort(list(sort_by), nulls_last=True)
        return merged

    return change


class WriteConflict(RuntimeError):
    """A conditional write lost to other writers more times than `ObjectTableStore` retries."""


class ObjectTableStore(TableStore):
    """The same tables on object storage (`s3://bucket/prefix`), through obstore.

    A PUT replaces an object whole and at once, so a reader sees the old table or the new one
    with no temporary object and no rename. A read takes one GET: one version of the object,
    whatever a writer does meanwhile.

    Concurrency: a read-merge-write (`update`: a SKU-subset upsert, the drift history) is an
    optimistic transaction. It reads the table and its ETag, merges, and writes only if the
    object is still that version (`If-Match: <etag>`, or `If-None-Match: *` for a table not
    there yet); a writer that lost the race (412 Precondition Failed) reads again and
    retries, with jittered backoff. So no subset writer puts back rows another writer has just
    replaced, across processes and machines, with no lock to leave behind: S3 decides. A full
    write needs no read: it is one unconditional PUT, and a subset writer that read before it
    then fails its condition and merges into the new table.
    """

    #: attempts of a conditional write before `WriteConflict`
    ATTEMPTS = 30

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        self.base_uri = str(base_dir).rstrip("/")
        self.objects = s3_store(self.base_uri)

    def path(self, key: Sequence[str], partition: str | None = None) -> Path:
        """Object storage has no local path: see `uri`."""
        raise TypeError(f"{self.uri(key, partition)} is on object storage: it has no local path")

    def lock_path(self, key: Sequence[str], partition: str | None = None) -> Path:
        """Object storage takes no lock file: writes are conditional (see the class)."""
        raise TypeError("object storage tables take no lock file: writes are conditional")

    def uri(self, key: Sequence[str], partition: str | None = None) -> str:
        """`s3://bucket/prefix/layer/name.parquet` (or `.../name/<partition>.parquet`)."""
        return f"{self.base_uri}/{self.relative(key, partition)}"

    def exists(self, key: Sequence[str], partition: str | None = None) -> bool:
        """Whether the table (or partition) has been written."""
        try:
            obstore.head(self.objects, self.relative(key, partition))
        except FileNotFoundError:
            return False
        return True

    def partitions(self, key: Sequence[str]) -> list[str]:
        """The partitions of a partitioned table that have been written, sorted."""
        folder = "/".join(key)
        names = [meta["path"].removeprefix(folder + "/") for meta in self._listed(folder)]
        return sorted(n.removesuffix(".parquet") for n in names if "/" not in n)

    def scan(self, key: Sequence[str], partition: str | None = None) -> pl.LazyFrame:
        """The table as a lazy frame (read whole first: one GET, one version)."""
        return self.read(key, partition).lazy()

    def read(
        self,
        key: Sequence[str],
        partition: str | None = None,
        skus: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The whole table, or only the rows of `skus`."""
        got = self._get(key, partition)
        if got is None:
            raise FileNotFoundError(
                f"table {'/'.join(key)}{f'[{partition}]' if partition else ''} has not been "
                f"materialized yet (expected {self.uri(key, partition)})"
            )
        return _collect(pl.scan_parquet(io.BytesIO(got[0])), skus)

    def write(
        self,
        key: Sequence[str],
        frame: pl.DataFrame,
        partition: str | None = None,
        *,
        replace_skus: Sequence[str] | None = None,
        sort_by: Sequence[str] = (),
    ) -> pl.DataFrame:
        """Write the table in one PUT and return what was written; with `replace_skus`, upsert
        those SKUs' rows (a conditional read-merge-write, see the class)."""
        change = _merged(frame, replace_skus, sort_by)
        if replace_skus is not None:
            return self.update(key, change, partition)
        written = change(None)
        obstore.put(self.objects, self.relative(key, partition), _parquet(written))
        return written

    def update(
        self, key: Sequence[str], change: Change, partition: str | None = None
    ) -> pl.DataFrame:
        """Replace the table (or partition) by `change(current)` if no other writer changed it
        in between, else read again and retry; return what was written."""
        where = self.relative(key, partition)
        for attempt in range(self.ATTEMPTS):
            got = self._get(key, partition)
            current = pl.scan_parquet(io.BytesIO(got[0])) if got is not None else None
            frame = change(current)
            mode: Any = "create" if got is None else {"e_tag": got[1]}
            try:
                obstore.put(self.objects, where, _parquet(frame), mode=mode)
            except (PreconditionError, AlreadyExistsError):
                time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))
                continue
            return frame
        raise WriteConflict(
            f"{self.uri(key, partition)}: other writers changed it {self.ATTEMPTS} times while "
            "this write merged; nothing was written"
        )

    def tables(self) -> list[tuple[tuple[str, ...], bool]]:
        """Every stored table as (key, partitioned)."""
        found: dict[tuple[str, ...], bool] = {}
        for meta in self._listed(None):
            rel = meta["path"].split("/")
            if not rel[-1].endswith(".parquet"):
                continue
            if len(rel) == 2:
                found[(rel[0], rel[1].removesuffix(".parquet"))] = False
            elif len(rel) == 3:
                found[(rel[0], rel[1])] = True
        return sorted(found.items())

    def _listed(self, prefix: str | None) -> Iterator[Any]:
        for batch in obstore.list(self.objects, prefix):
            yield from batch

    def _get(self, key: Sequence[str], partition: str | None) -> tuple[bytes, str | None] | None:
        """The table's bytes and ETag, in one GET; None if it is not there."""
        try:
            got = obstore.get(self.objects, self.relative(key, partition))
        except FileNotFoundError:
            return None
        return bytes(got.bytes()), got.meta["e_tag"]


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()
