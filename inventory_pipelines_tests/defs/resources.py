"""The code location's resources for tests: pointed at an Odoo sandbox, everything else local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inventory_pipelines.defs.io_manager import ParquetIOManager, SkuScope
from inventory_pipelines.defs.resources import (
    ChannelsResource,
    LedgerResource,
    OdooResource,
    RulesResource,
)
from inventory_pipelines.rules import default_rules_dir


def sandbox_resources(
    odoo: Any, folder: Path, ledger_url: str | None = None, **odoo_overrides: Any
) -> dict[str, object]:
    """Every resource the assets take: Odoo at the sandbox `odoo`, the shipped rules, channels
    from the environment, the ledger at `ledger_url` (default: a SQLite file in `folder`), the
    tables and the catalog under `folder`."""
    scope = SkuScope.configure_at_launch()
    return {
        "odoo": OdooResource(
            url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key, **odoo_overrides
        ),
        "channels": ChannelsResource(),
        "rules": RulesResource(directory=str(default_rules_dir())),
        "ledger": LedgerResource(url=ledger_url or f"sqlite:///{folder / 'ledger.sqlite'}"),
        "sku_scope": scope,
        "io_manager": ParquetIOManager(
            base_dir=str(folder / "tables"),
            catalog_path=str(folder / "warehouse.duckdb"),
            sku_scope=scope,
        ),
    }
