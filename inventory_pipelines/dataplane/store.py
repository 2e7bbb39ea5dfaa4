"""Parquet tables under one base folder, written atomically, read whole or for a SKU subset."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import polars as pl


@contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `lock_path` (created if missing) until the block ends.

    Blocks until no other holder (thread or process) has it: each call opens its own file
    description, so threads of one process exclude each other too. POSIX and local filesystem
    only: flock is advisory and not reliable on NFS/SMB mounts, and there is no equivalent here
    for object storage (future work). The lock file is left in place (deleting it would race).
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
    """

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        base = str(base_dir)
        if "://" in base and not base.startswith("file://"):
            raise ValueError(
                f"data plane base {base.split('://')[0]}://... is not supported yet; "
                "use a local or mounted folder"
            )
        self.base = Path(base.removeprefix("file://")).expanduser().resolve()

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
            scan = pl.scan_parquet(handle)
            if skus is not None:
                scan = scan.filter(pl.col("sku").is_in(list(skus)))
            return scan.collect()

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
        wins per SKU). The lock is POSIX `flock` on a local filesystem only; object storage
        bases are not supported yet (future work). Readers take no lock: the atomic rename
        already gives them the old table or the new one.
        """
        path = self.path(key, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock_path(key, partition)):
            if replace_skus is not None and path.exists():
                kept = pl.scan_parquet(path).filter(
                    ~pl.col("sku").is_in(list(replace_skus)) | pl.col("sku").is_null()
                )
                frame = pl.concat([kept.collect(), frame], how="vertical_relaxed")
            if sort_by:
                frame = frame.sort(list(sort_by), nulls_last=True)
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
