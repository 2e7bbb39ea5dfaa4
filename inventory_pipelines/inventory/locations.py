"""The role of each Odoo location (stock, hold, transit), from the warehouse rules."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from inventory_pipelines.rules.patterns import glob_to_regex
from inventory_pipelines.rules.warehouses import WarehouseRules

ROLE_STOCK = "stock"
ROLE_HOLD = "hold"
ROLE_TRANSIT = "transit"
ROLE_IGNORED = "ignored"
ROLE_UNRESOLVED = "unresolved"


def _matches_any(column: str, patterns: Iterable[str]) -> pl.Expr:
    regexes = [glob_to_regex(p) for p in patterns]
    if not regexes:
        return pl.lit(False)
    return pl.col(column).fill_null("").str.contains("|".join(f"(?:{r})" for r in regexes))


def assign_location_roles(locations: pl.DataFrame, rules: WarehouseRules) -> pl.DataFrame:
    """Add `role`, `warehouse` (the code whose stock it counts for) and `role_problem`.

    Internal locations count for their own warehouse, as hold stock when a hold pattern names
    them. Transit locations count for the warehouse a transit rule binds them to; one that no
    rule names cannot be attributed and is `unresolved` (its stock is quarantined, not guessed).
    """
    transit_warehouse = pl.lit(None, dtype=pl.Utf8)
    for rule in reversed(rules.locations.transit):  # first matching rule wins
        transit_warehouse = (
            pl.when(_matches_any("complete_name", [rule.pattern]))
            .then(pl.lit(rule.warehouse))
            .otherwise(transit_warehouse)
        )
    is_hold = _matches_any("complete_name", [h.pattern for h in rules.locations.hold])
    usage = pl.col("usage")
    internal_known = (usage == "internal") & pl.col("warehouse_code").is_not_null()
    return locations.with_columns(
        role=pl.when(internal_known & is_hold)
        .then(pl.lit(ROLE_HOLD))
        .when(internal_known)
        .then(pl.lit(ROLE_STOCK))
        .when((usage == "transit") & transit_warehouse.is_not_null())
        .then(pl.lit(ROLE_TRANSIT))
        .when(usage.is_in(["internal", "transit"]))
        .then(pl.lit(ROLE_UNRESOLVED))
        .otherwise(pl.lit(ROLE_IGNORED)),
        warehouse=pl.when(usage == "transit")
        .then(transit_warehouse)
        .otherwise(pl.col("warehouse_code")),
        role_problem=pl.when((usage == "internal") & pl.col("warehouse_code").is_null())
        .then(pl.lit("location_without_warehouse"))
        .when((usage == "transit") & transit_warehouse.is_null())
        .then(pl.lit("transit_location_without_rule"))
        .otherwise(pl.lit(None, dtype=pl.Utf8)),
    )
