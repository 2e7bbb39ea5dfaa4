"""The one IO manager of the data plane, and the SKU scope of a partial refresh."""

from typing import Any

import dagster as dg
import polars as pl

from inventory_pipelines.dataplane import TableStore, refresh_catalog

# Definition metadata keys an asset sets to tell the IO manager how its table is keyed.
SCOPE_COLUMN = "inventory/scope_column"  # the column a SKU subset filters on ("sku")
SORT_BY = "inventory/sort_by"  # the table's order, so a partial refresh equals a full one


class SkuScope(dg.ConfigurableResource):
    """The SKUs a run covers: all of them (None), or the subset of a fast partial refresh.

    Set it in run config (`resources: {sku_scope: {config: {skus: [...]}}}`); every asset and
    the IO manager read it, so the same asset code serves the full and the partial refresh.
    """

    skus: list[str] | None = None

    def is_partial(self) -> bool:
        """Whether this run covers only some SKUs."""
        return self.skus is not None


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each table asset as Parquet under `base_dir` (a folder or `s3://bucket/prefix`),
    atomically, and keeps the catalog.

    In a partial refresh, a SKU-keyed table is upserted: the subset's rows are replaced and the
    rest kept; inputs are read for the subset only.
    """

    base_dir: str
    catalog_path: str
    sku_scope: dg.ResourceDependency[SkuScope]

    def _store(self) -> TableStore:
        return TableStore(self.base_dir)

    def _scoped(self, context: dg.InputContext | dg.OutputContext) -> bool:
        metadata = context.definition_metadata or {}
        return self.sku_scope.is_partial() and metadata.get(SCOPE_COLUMN) == "sku"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the table (or upsert the SKU subset) and refresh the analysts' catalog.

        An output covering several channel partitions (one run over many channels) is split
        by its `channel` column, one file per partition; a channel without rows gets an empty
        table, so no partition keeps rows the run no longer produced.
        """
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()} returned {type(obj).__name__}")
        store = self._store()
        metadata = context.definition_metadata or {}
        replace = self.sku_scope.skus if self._scoped(context) else None
        sort_by = metadata.get(SORT_BY, ())
        if not context.has_asset_partitions:
            parts: dict[str | None, pl.DataFrame] = {None: obj}
        elif len(context.asset_partition_keys) == 1:
            parts = {context.asset_partition_key: obj}
        else:
            if "channel" not in obj.columns:
                raise ValueError(
                    f"{context.asset_key.to_user_string()} covers several partitions but has "
                    "no `channel` column to split its rows by"
                )
            keys = sorted(context.asset_partition_keys)
            parts = {key: obj.filter(pl.col("channel").cast(pl.Utf8) == key) for key in keys}
        rows = 0
        for partition, frame in parts.items():
            written = store.write(
                context.asset_key.path, frame, partition, replace_skus=replace, sort_by=sort_by
            )
            rows += written.height
        refresh_catalog(store, self.catalog_path)
        first = next(iter(parts))
        context.add_output_metadata(
            {
                "dagster/row_count": rows,
                "rows_written_this_run": obj.height,
                "path": dg.MetadataValue.path(store.uri(context.asset_key.path, first)),
                "partial_refresh_skus": len(self.sku_scope.skus or []),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        """Read the upstream table; in a partial refresh, only the subset's rows.

        A partitioned upstream read by an unpartitioned asset comes as one frame of all its
        materialized partitions.
        """
        store = self._store()
        upstream = context.upstream_output
        scoped = (
            self.sku_scope.is_partial()
            and upstream is not None
            and (upstream.definition_metadata or {}).get(SCOPE_COLUMN) == "sku"
        )
        skus = self.sku_scope.skus if scoped else None
        key = context.asset_key.path
        if not context.has_asset_partitions:
            return store.read(key, None, skus=skus)
        partitions = context.asset_partition_keys
        if len(partitions) == 1:
            return store.read(key, partitions[0], skus=skus)
        present = [p for p in partitions if store.exists(key, p)]
        if not present:
            raise FileNotFoundError(
                f"no partition of {context.asset_key.to_user_string()} has been materialized"
            )
        return pl.concat([store.read(key, p, skus=skus) for p in present], how="vertical_relaxed")
