"""Which SKUs an override touches, from the data plane: the SKUs canonical inventory and Odoo's
products know, and those a stop's shell pattern matches."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.rules.patterns import glob_to_regex

CANONICAL = ("inventory", "canonical_inventory")
PRODUCTS = ("odoo", "products")


@dataclass(frozen=True)
class Known:
    """The SKUs the data plane knows (None: no table to know them from yet), and from where."""

    skus: frozenset[str] | None
    source: str

    def unknown(self, sku: str) -> str | None:
        """Why `sku` is refused, or None when it is known (or cannot be checked yet)."""
        if self.skus is None or sku in self.skus:
            return None
        return (
            f"unknown SKU {sku!r}: not in {self.source}; check the product's internal reference "
            "(default_code) in Odoo"
        )

    def matching(self, pattern: str) -> list[str] | None:
        """The known SKUs `pattern` matches, sorted (None: none known yet)."""
        if self.skus is None:
            return None
        found = pl.Series("sku", sorted(self.skus), dtype=pl.Utf8)
        return found.filter(found.str.contains(glob_to_regex(pattern))).to_list()


def known_skus(store: TableStore) -> Known:
    """The SKUs of canonical inventory and of Odoo's products, whichever tables exist."""
    skus: set[str] = set()
    sources = []
    for key in (CANONICAL, PRODUCTS):
        if store.exists(key):
            column = store.read(key).get_column("sku").drop_nulls()
            skus.update(column.unique().to_list())
            sources.append("/".join(key))
    if not sources:
        return Known(None, "no inventory table yet")
    return Known(frozenset(skus), " nor ".join(sources))


def skus_of(kind: str, sku: str, known: Known) -> list[str]:
    """The SKUs an override (`kind` quantity: `sku`) or a stop (`sku` is its pattern) touches."""
    if kind == "stop":
        return known.matching(sku) or []
    return [sku]
