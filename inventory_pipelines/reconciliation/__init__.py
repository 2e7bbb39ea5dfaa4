"""Reconciliation: what the channels show against what they should show (pure Polars/DuckDB).

`drift` compares the expected quantity of every listing (the allocation, as `explain` shows it)
with the channel's read-back and gives each difference its cause; `schemas` holds its pandera
schema; `thresholds` the per-channel verdict of the drift check; `history` the drift kept per
day for analysts (Parquet partitioned by day, queried in DuckDB). Nothing here talks to a
channel, the ledger or Dagster: the facts come in as frames.
"""

from inventory_pipelines.reconciliation.drift import (
    CAUSES,
    DRIFT_SCHEMA,
    LedgerFacts,
    drift,
    expected_per_listing,
    sales_horizon,
    summarize,
)
from inventory_pipelines.reconciliation.thresholds import Level, Verdict, verdict

__all__ = [
    "CAUSES",
    "DRIFT_SCHEMA",
    "LedgerFacts",
    "Level",
    "Verdict",
    "drift",
    "expected_per_listing",
    "sales_horizon",
    "summarize",
    "verdict",
]
