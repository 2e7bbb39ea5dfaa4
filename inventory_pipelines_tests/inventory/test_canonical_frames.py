"""Canonical semantics on hand-built snapshot frames (DESIGN.md section 3)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_pipelines.inventory.canonical import compute_canonical
from inventory_pipelines.inventory.locations import assign_location_roles
from inventory_pipelines.inventory.schemas import CanonicalInventorySchema, validate
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.inventory import frames

RULES = load_policy().warehouses

TRANSIT = "Physical Locations/Inter-warehouse transit"


def _loc(location_id: int, name: str, usage: str, warehouse: str | None) -> dict:
    return dict(location_id=location_id, complete_name=name, usage=usage, warehouse_code=warehouse)


LOCATIONS = assign_location_roles(
    frames.locations(
        [
            _loc(1, "MAIN/Stock", "internal", "MAIN"),
            _loc(2, "MAIN/Stock/Shelf 1", "internal", "MAIN"),
            _loc(3, "MAIN/Stock/QC", "internal", "MAIN"),
            _loc(4, "EAST/Stock", "internal", "EAST"),
            _loc(5, f"{TRANSIT}/To EAST", "transit", None),
            _loc(6, f"{TRANSIT}/To Mars", "transit", None),
            _loc(7, "Orphan/Stock", "internal", None),
        ]
    ),
    RULES,
)


def canonical_of(products: list[dict], quants: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return compute_canonical(
        frames.products(products), LOCATIONS, frames.quants(quants), frames.AS_OF
    )


def row(canonical: pl.DataFrame, sku: str, warehouse: str) -> dict:
    rows = canonical.filter((pl.col("sku") == sku) & (pl.col("warehouse") == warehouse)).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_on_hand_sums_the_internal_locations_of_a_warehouse_and_available_subtracts_reserved():
    canonical, _ = canonical_of([dict(product_id=1, sku="A")], [(1, 1, 1, 10, 3), (2, 1, 2, 5, 1)])
    r = row(canonical, "A", "MAIN")
    assert (r["on_hand"], r["reserved"], r["available"]) == (15, 4, 11)


def test_hold_locations_count_as_quality_hold_not_on_hand():
    canonical, _ = canonical_of([dict(product_id=1, sku="A")], [(1, 1, 1, 10, 0), (2, 1, 3, 4, 0)])
    r = row(canonical, "A", "MAIN")
    assert (r["on_hand"], r["quality_hold"], r["available"]) == (10, 4, 10)


def test_transit_stock_counts_for_the_warehouse_it_is_bound_for_and_is_not_sellable():
    canonical, _ = canonical_of([dict(product_id=1, sku="A")], [(1, 1, 5, 7, 0)])
    r = row(canonical, "A", "EAST")
    assert (r["on_hand"], r["in_transit"], r["available"]) == (0, 7, 0)


def test_reserved_above_on_hand_leaves_nothing_available_rather_than_a_negative():
    canonical, _ = canonical_of([dict(product_id=1, sku="A")], [(1, 1, 1, 2, 5)])
    assert row(canonical, "A", "MAIN")["available"] == 0


def test_quantities_are_converted_to_the_base_unit_without_float_noise():
    canonical, _ = canonical_of(
        [dict(product_id=1, sku="DZ", uom="Dozens", factor=12.0)], [(1, 1, 1, 2.5, 0.5)]
    )
    r = row(canonical, "DZ", "MAIN")
    assert (r["on_hand"], r["reserved"], r["available"], r["uom"]) == (30, 6, 24, "Units")


def test_lots_of_one_product_are_summed_into_one_row():
    canonical, _ = canonical_of(
        [dict(product_id=1, sku="L")], [(1, 1, 1, 3, 0), (2, 1, 1, 4, 0), (3, 1, 1, 5, 2)]
    )
    assert canonical.height == 1
    assert row(canonical, "L", "MAIN")["available"] == 10


@pytest.mark.parametrize(
    ("product", "reason"),
    [
        (dict(product_id=1, sku=None), "missing_sku"),
        (dict(product_id=1, sku="A", active=False), "archived_product"),
        (dict(product_id=1, sku="A", storable=False), "not_storable"),
        (dict(product_id=1, sku="A", factor=None, base_uom=None, uom="Bogus"), "unknown_uom"),
    ],
)
@pytest.mark.bad_input
def test_a_quant_that_cannot_be_normalized_is_quarantined_with_its_reason(product, reason):
    canonical, quarantine = canonical_of([product], [(1, 1, 1, 10, 0)])
    assert canonical.height == 0
    assert quarantine.select("record_id", "reason", "quantity").to_dicts() == [
        {"record_id": 1, "reason": reason, "quantity": 10.0}
    ]


@pytest.mark.bad_input
def test_a_sku_used_by_two_products_is_quarantined_for_both_not_merged():
    canonical, quarantine = canonical_of(
        [dict(product_id=1, sku="DUP"), dict(product_id=2, sku="DUP")],
        [(1, 1, 1, 1, 0), (2, 2, 1, 2, 0)],
    )
    assert canonical.height == 0
    assert sorted(quarantine["reason"].to_list()) == ["duplicate_sku", "duplicate_sku"]


@pytest.mark.bad_input
def test_quants_of_unknown_products_and_unattributable_locations_are_quarantined():
    _, quarantine = canonical_of(
        [dict(product_id=1, sku="A")],
        [(1, 99, 1, 1, 0), (2, 1, 6, 2, 0), (3, 1, 7, 3, 0), (4, 1, 42, 4, 0)],
    )
    assert dict(zip(quarantine["record_id"], quarantine["reason"], strict=True)) == {
        1: "unknown_product",
        2: "transit_location_without_rule",
        3: "location_without_warehouse",
        4: "unknown_location",
    }


@pytest.mark.bad_input
def test_a_negative_on_hand_is_reported_and_counted_as_zero():
    canonical, quarantine = canonical_of([dict(product_id=1, sku="A")], [(1, 1, 1, -4, 0)])
    r = row(canonical, "A", "MAIN")
    assert (r["on_hand"], r["available"]) == (0, 0)
    assert quarantine.select("sku", "warehouse", "reason", "quantity").to_dicts() == [
        {"sku": "A", "warehouse": "MAIN", "reason": "negative_on_hand", "quantity": -4.0}
    ]


quant_rows = st.lists(
    st.tuples(
        st.integers(1, 6),  # product
        st.integers(1, 7),  # location
        st.one_of(st.floats(-5, 0), st.floats(0, 100)).map(lambda x: round(x, 2)),
        st.floats(0, 50, allow_nan=False).map(lambda x: round(x, 2)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(quant_rows)
@pytest.mark.bad_input
def test_every_quant_is_counted_once_either_in_canonical_or_in_quarantine(rows):
    products = [
        dict(product_id=1, sku="A"),
        dict(product_id=2, sku="B", uom="Dozens", factor=12.0),
        dict(product_id=3, sku=None),
        dict(product_id=4, sku="D", active=False),
        dict(product_id=5, sku="E", storable=False),
    ]
    quants = [
        (i + 1, p, loc, qty, min(res, max(qty, 0))) for i, (p, loc, qty, res) in enumerate(rows)
    ]
    canonical, quarantine = canonical_of(products, quants)
    assert validate(CanonicalInventorySchema, canonical).passed
    rejected = quarantine.filter(pl.col("source") == "stock.quant")
    assert sorted(rejected["record_id"].to_list()) == sorted(
        q[0] for q in quants if q[1] not in (1, 2) or q[2] in (6, 7)
    )
    factor = {1: 1.0, 2: 12.0}
    accepted_units = sum(
        q[3] * factor[q[1]] for q in quants if q[1] in (1, 2) and q[2] not in (6, 7)
    )
    negative_sums = quarantine.filter(pl.col("source") == "canonical_inventory")["quantity"].sum()
    held = canonical.select(pl.col("on_hand") + pl.col("quality_hold") + pl.col("in_transit")).sum()
    assert held.item() + negative_sums == pytest.approx(accepted_units, abs=1e-4)
