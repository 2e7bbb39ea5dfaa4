"""Where things live, from the environment: one place for the CLI and the Dagster resources."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

ENVIRONMENTS = ("local", "staging", "prod")


def environment() -> str:
    """`$INVENTORY_ENV`: local (the sandbox, the default), staging or prod."""
    env = os.environ.get("INVENTORY_ENV", "local")
    if env not in ENVIRONMENTS:
        raise ValueError(f"INVENTORY_ENV={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return env


def data_dir() -> Path:
    """`$INVENTORY_DATA_DIR`: the base folder of the Parquet data plane (default `.data/`)."""
    return Path(os.environ.get("INVENTORY_DATA_DIR", REPO_ROOT / ".data" / "tables"))


def catalog_path() -> Path:
    """`$INVENTORY_CATALOG`: the analysts' DuckDB catalog (default beside the data plane)."""
    configured = os.environ.get("INVENTORY_CATALOG")
    return Path(configured) if configured else data_dir().parent / "warehouse.duckdb"
