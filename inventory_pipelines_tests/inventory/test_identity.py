"""Product identity: listings matched by override, SKU, then barcode; the rest reported."""

from __future__ import annotations

import polars as pl
import pytest

from inventory_pipelines.inventory.identity import map_listings
from inventory_pipelines.rules.mappings import MappingRules

PRODUCTS = pl.DataFrame(
    {
        "sku": ["A", "B", "C", "D", "E", "F", "G"],
        "barcode": ["111", "222", "333", "444", "555", "555", None],
    }
)
LISTINGS = pl.DataFrame(
    {
        "listing_id": ["L-A", "L-B1", "L-B2", "L-C", "L-E", "L-X", "L-G"],
        "sku": ["A", "B", "B", None, None, None, "wrong-code"],
        "barcode": [None, None, None, "333", "555", "999", None],
    }
)


@pytest.mark.bad_input
def test_matching_prefers_overrides_then_sku_then_a_unique_barcode():
    overrides = MappingRules.model_validate(
        {"mappings": [{"sku": "G", "channel": "shop", "listing_id": "L-G", "pack_size": 6}]}
    )
    mapping, problems = map_listings("shop", PRODUCTS, LISTINGS, overrides)
    assert mapping.select("sku", "listing_id", "matched_by", "pack_size").rows() == [
        ("A", "L-A", "sku", None),
        ("C", "L-C", "barcode", None),
        ("G", "L-G", "override", 6),
    ]
    assert set(problems.select("problem", "sku", "listing_id").rows()) == {
        ("ambiguous_sku", "B", "L-B1"),
        ("ambiguous_sku", "B", "L-B2"),
        ("ambiguous_barcode", "E", "L-E"),
        ("ambiguous_barcode", "F", "L-E"),
        ("unmapped_sku", "D", None),
        ("unmapped_listing", None, "L-X"),
    }


@pytest.mark.bad_input
def test_an_override_naming_an_unknown_listing_is_reported_not_used():
    overrides = MappingRules.model_validate(
        {"mappings": [{"sku": "D", "channel": "shop", "listing_id": "L-NOPE"}]}
    )
    mapping, problems = map_listings("shop", PRODUCTS, LISTINGS, overrides)
    assert "D" not in mapping["sku"].to_list()
    assert ("override_unknown_listing", "D", "L-NOPE") in problems.select(
        "problem", "sku", "listing_id"
    ).rows()


def test_each_sku_and_each_listing_is_mapped_at_most_once():
    mapping, _ = map_listings("shop", PRODUCTS, LISTINGS, MappingRules())
    assert mapping["sku"].is_unique().all() and mapping["listing_id"].is_unique().all()
