"""Products, locations and quants as frames, across the differences between Odoo 16 and 19."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from inventory_pipelines.odoo import (
    LOCATIONS_SCHEMA,
    PRODUCTS_SCHEMA,
    QUANTS_SCHEMA,
    read_locations,
    read_products,
    read_quants,
    snapshot,
)
from inventory_pipelines_tests.odoo.conftest import ClientFactory, FakeOdoo, FakeOdooError

WRITE_DATE = "2024-05-01 10:00:00"
WRITTEN = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def matches(record: dict[str, Any], leaf: list[Any]) -> bool:
    field, operator, value = leaf
    if "." in field:  # related paths are the server's business; checked on the domain itself
        return True
    if operator == ">":
        return record[field] > value
    if operator == "in":
        return record[field] in value
    raise AssertionError(f"unexpected operator {operator}")


def table(records: list[dict[str, Any]], *, archived: bool = True):
    """A search_read handler over `records` that honours plain leaves and the limit."""

    def search_read(args: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        if archived:
            assert kwargs.get("context") == {"active_test": False}, "archived records skipped"
        assert kwargs["load"] is None
        found = [r for r in records if all(matches(r, leaf) for leaf in args[0])]
        return [{k: r[k] for k in ["id", *kwargs["fields"]] if k in r} for r in found][
            : kwargs["limit"]
        ]

    return search_read


def product(pid: int, code: Any, uom: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "default_code": code,
        "barcode": False,
        "name": f"Product {pid}",
        "product_tmpl_id": pid + 100,
        "uom_id": uom,
        "active": True,
        "write_date": WRITE_DATE,
        **extra,
    }


UOMS_16_TO_18 = [
    {"id": 1, "name": "Units", "category_id": 1, "factor": 1.0, "uom_type": "reference"},
    {"id": 2, "name": "Dozens", "category_id": 1, "factor": 1 / 12, "uom_type": "bigger"},
    {"id": 3, "name": "kg", "category_id": 2, "factor": 1.0, "uom_type": "reference"},
    {"id": 4, "name": "g", "category_id": 2, "factor": 1000.0, "uom_type": "smaller"},
]

UOMS_19 = [
    {"id": 1, "name": "Units", "relative_uom_id": False, "relative_factor": 1.0, "factor": 1.0},
    {"id": 2, "name": "Dozens", "relative_uom_id": 1, "relative_factor": 12.0, "factor": 12.0},
    {"id": 5, "name": "Crate", "relative_uom_id": 2, "relative_factor": 6.0, "factor": 72.0},
    {"id": 3, "name": "kg", "relative_uom_id": False, "relative_factor": 1.0, "factor": 1.0},
    {"id": 4, "name": "g", "relative_uom_id": 3, "relative_factor": 0.001, "factor": 0.001},
]


@pytest.mark.parametrize("major", [16, 17])
def test_products_before_18_are_storable_by_template_type(
    fake: FakeOdoo, make_client: ClientFactory, major: int
) -> None:
    fake.major = major
    fake.on(
        "product.product",
        "search_read",
        table(
            [
                product(1, "SKU-1", 1, type="product", barcode="4006381333931"),
                product(2, False, 2, type="consu", active=False),
                product(3, "SKU-3", 4, type="service"),
            ]
        ),
    )
    fake.on("uom.uom", "search_read", table(UOMS_16_TO_18))

    frame = read_products(make_client())

    expected = pl.DataFrame(
        {
            "product_id": [1, 2, 3],
            "sku": ["SKU-1", None, "SKU-3"],
            "barcode": ["4006381333931", None, None],
            "name": ["Product 1", "Product 2", "Product 3"],
            "template_id": [101, 102, 103],
            "uom_id": [1, 2, 4],
            "uom": ["Units", "Dozens", "g"],
            "base_uom": ["Units", "Units", "kg"],
            "factor": [1.0, 12.0, 0.001],
            "category": [None, None, None],
            "storable": [True, False, False],
            "active": [True, False, True],
            "write_date": [WRITTEN] * 3,
        },
        schema=PRODUCTS_SCHEMA,
    )
    assert_frame_equal(frame, expected)


@pytest.mark.parametrize(("major", "uoms"), [(18, UOMS_16_TO_18), (19, UOMS_19)])
def test_products_from_18_are_storable_by_is_storable(
    fake: FakeOdoo, make_client: ClientFactory, major: int, uoms: list[dict[str, Any]]
) -> None:
    fake.major = major
    fake.on(
        "product.product",
        "search_read",
        table([product(1, "A", 1, is_storable=True), product(2, "B", 2, is_storable=False)]),
    )
    fake.on("uom.uom", "search_read", table(uoms))

    frame = read_products(make_client())

    assert frame["storable"].to_list() == [True, False]
    assert frame["factor"].to_list() == [1.0, 12.0]
    assert frame["base_uom"].to_list() == ["Units", "Units"]


def test_on_19_the_reference_unit_is_the_root_of_the_relative_uom_chain(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 19
    fake.on(
        "product.product",
        "search_read",
        table([product(1, "A", 5, is_storable=True), product(2, "B", 4, is_storable=True)]),
    )
    fake.on("uom.uom", "search_read", table(UOMS_19))

    frame = read_products(make_client())

    assert frame.select("uom", "base_uom", "factor").rows() == [
        ("Crate", "Units", 72.0),
        ("g", "kg", 0.001),
    ]


@pytest.mark.bad_input
def test_unknown_or_unreadable_units_leave_the_uom_columns_null(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("product.product", "search_read", table([product(1, "A", 1, type="product")]))

    def forbidden(args: list[Any], kwargs: dict[str, Any]) -> None:
        raise FakeOdooError("odoo.exceptions.AccessError", "no uom for you", fault=4, status=403)

    fake.on("uom.uom", "search_read", forbidden)

    frame = read_products(make_client())

    assert frame.select("uom", "base_uom", "factor").rows() == [(None, None, None)]
    assert frame.schema == PRODUCTS_SCHEMA


@pytest.mark.bad_input
def test_a_default_code_of_blanks_is_no_sku(fake: FakeOdoo, make_client: ClientFactory) -> None:
    codes = ["", "   ", False, "SKU-4"]
    fake.on(
        "product.product",
        "search_read",
        table([product(i, code, 1, type="product") for i, code in enumerate(codes, start=1)]),
    )
    fake.on("uom.uom", "search_read", table(UOMS_16_TO_18))

    frame = read_products(make_client())

    assert frame.select("product_id", "sku").rows() == [
        (1, None),
        (2, None),
        (3, None),
        (4, "SKU-4"),
    ]


def test_products_can_be_limited_to_some_skus(fake: FakeOdoo, make_client: ClientFactory) -> None:
    products = [product(i, f"SKU-{i}", 1, type="product") for i in range(1, 8)]
    fake.on("product.product", "search_read", table(products))
    fake.on("uom.uom", "search_read", table(UOMS_16_TO_18))

    frame = read_products(make_client(), skus=["SKU-2", "SKU-5", "SKU-404"])

    assert frame["sku"].to_list() == ["SKU-2", "SKU-5"]
    reads = [c for c in fake.object_calls() if c.model == "product.product"]
    assert reads[0].args[0][1] == ["default_code", "in", ["SKU-2", "SKU-5", "SKU-404"]]


def test_no_products_is_an_empty_frame_of_the_schema(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("product.product", "search_read", table([]))
    fake.on("uom.uom", "search_read", table(UOMS_16_TO_18))

    assert read_products(make_client(), skus=["nope"]).schema == PRODUCTS_SCHEMA


def test_locations_carry_their_warehouse_code_and_include_archived_ones(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on(
        "stock.location",
        "search_read",
        table(
            [
                {
                    "id": 1,
                    "name": "WH",
                    "complete_name": "WH",
                    "usage": "view",
                    "location_id": False,
                    "warehouse_id": 1,
                    "active": True,
                },
                {
                    "id": 8,
                    "name": "Stock",
                    "complete_name": "WH/Stock",
                    "usage": "internal",
                    "location_id": 1,
                    "warehouse_id": 1,
                    "active": True,
                },
                {
                    "id": 9,
                    "name": "Old",
                    "complete_name": "WH/Old",
                    "usage": "internal",
                    "location_id": 1,
                    "warehouse_id": 1,
                    "active": False,
                },
                {
                    "id": 5,
                    "name": "Customers",
                    "complete_name": "Partners/Customers",
                    "usage": "customer",
                    "location_id": False,
                    "warehouse_id": False,
                    "active": True,
                },
            ]
        ),
    )
    fake.on("stock.warehouse", "search_read", table([{"id": 1, "code": "WH"}]))

    frame = read_locations(make_client())

    expected = pl.DataFrame(
        {
            "location_id": [1, 5, 8, 9],
            "name": ["WH", "Customers", "Stock", "Old"],
            "complete_name": ["WH", "Partners/Customers", "WH/Stock", "WH/Old"],
            "usage": ["view", "customer", "internal", "internal"],
            "parent_id": [None, None, 1, 1],
            "warehouse_id": [1, None, 1, 1],
            "warehouse_code": ["WH", None, "WH", "WH"],
            "active": [True, True, True, False],
        },
        schema=LOCATIONS_SCHEMA,
    )
    assert_frame_equal(frame.sort("location_id"), expected)


QUANTS = [
    {
        "id": 1,
        "product_id": 1,
        "location_id": 8,
        "lot_id": False,
        "quantity": 10.0,
        "reserved_quantity": 2.0,
        "write_date": WRITE_DATE,
    },
    {
        "id": 2,
        "product_id": 2,
        "location_id": 8,
        "lot_id": 4,
        "quantity": 3,
        "reserved_quantity": 0,
        "write_date": "2024-05-02 11:30:15",
    },
    {
        "id": 3,
        "product_id": 3,
        "location_id": 9,
        "lot_id": False,
        "quantity": -1.5,
        "reserved_quantity": 0.0,
        "write_date": WRITE_DATE,
    },
]


def test_quants_become_a_typed_frame_with_null_lots(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("stock.quant", "search_read", table(QUANTS, archived=False))

    frame = read_quants(make_client())

    expected = pl.DataFrame(
        {
            "quant_id": [1, 2, 3],
            "product_id": [1, 2, 3],
            "location_id": [8, 8, 9],
            "lot_id": [None, 4, None],
            "quantity": [10.0, 3.0, -1.5],
            "reserved_quantity": [2.0, 0.0, 0.0],
            "write_date": [WRITTEN, datetime(2024, 5, 2, 11, 30, 15, tzinfo=UTC), WRITTEN],
        },
        schema=QUANTS_SCHEMA,
    )
    assert_frame_equal(frame, expected)
    domain = fake.object_calls()[0].args[0]
    assert ["location_id.usage", "in", ["internal", "transit"]] in domain


def test_quants_of_many_products_are_read_in_chunks(
    fake: FakeOdoo, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "IN_CHUNK", 2)
    fake.on("stock.quant", "search_read", table(QUANTS, archived=False))

    frame = read_quants(make_client(), product_ids=[3, 1, 2, 1, 42])

    assert sorted(frame["quant_id"].to_list()) == [1, 2, 3]
    chunks = [c.args[0][1] for c in fake.object_calls()]
    assert chunks == [["product_id", "in", [3, 1]], ["product_id", "in", [2, 42]]]


def test_no_quants_is_an_empty_frame_of_the_schema(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("stock.quant", "search_read", table([], archived=False))

    frame = read_quants(make_client())

    assert frame.is_empty()
    assert frame.schema == QUANTS_SCHEMA
