"""Domain semantics of the models layer: every operator, prefix logic, paths, NULLs, paging."""

from __future__ import annotations

from typing import Any

import pytest

from inventory_pipelines.sandbox.demo_data import build_state
from inventory_pipelines.sandbox.odoo import OdooState


@pytest.fixture(scope="module")
def s17() -> OdooState:
    return build_state(17, skus=150, seed=3)


def names(state: OdooState, domain: list[Any], **kwargs: Any) -> list[str]:
    rows = state.call(
        "stock.location",
        "search_read",
        [domain, ["complete_name"]],
        {"order": "complete_name", **kwargs},
    )
    return [row["complete_name"] for row in rows]


def location(state: OdooState, name: str) -> int:
    return state.location_id(name)


def test_equality_and_inequality(s17: OdooState) -> None:
    assert names(s17, [("complete_name", "=", "MAIN/Stock")]) == ["MAIN/Stock"]
    codes = s17.call("stock.warehouse", "search_read", [[("code", "!=", "MAIN")], ["code"]])
    assert [row["code"] for row in codes] == ["EAST", "WEST"]


def test_false_means_null_and_not_equal_includes_null(s17: OdooState) -> None:
    ctx = {"context": {"active_test": False}}
    no_code = s17.call("product.product", "search", [[("default_code", "=", False)]], ctx)
    with_code = s17.call("product.product", "search", [[("default_code", "!=", False)]], ctx)
    total = s17.call("product.product", "search_count", [[]], ctx)
    assert no_code and len(no_code) + len(with_code) == total
    not_sku1 = s17.call("product.product", "search", [[("default_code", "!=", "SKU-000001")]], ctx)
    assert set(no_code) <= set(not_sku1)
    assert len(not_sku1) == total - 1


def test_in_and_not_in_with_false(s17: OdooState) -> None:
    ctx = {"context": {"active_test": False}}
    in_with_null = s17.call(
        "product.product", "search", [[("default_code", "in", ["SKU-000001", False])]], ctx
    )
    no_code = s17.call("product.product", "search", [[("default_code", "=", False)]], ctx)
    assert len(in_with_null) == len(no_code) + 1
    not_in = s17.call(
        "product.product", "search", [[("default_code", "not in", ["SKU-000001"])]], ctx
    )
    assert set(no_code) <= set(not_in)
    not_in_null = s17.call(
        "product.product", "search", [[("default_code", "not in", ["SKU-000001", False])]], ctx
    )
    assert not set(no_code) & set(not_in_null)


def test_comparisons(s17: OdooState) -> None:
    quants = s17.call("stock.quant", "search_read", [[], ["quantity"]])
    for op, test in (
        (">", lambda q: q > 100),
        (">=", lambda q: q >= 100),
        ("<", lambda q: q < 100),
        ("<=", lambda q: q <= 100),
    ):
        found = s17.call("stock.quant", "search", [[("quantity", op, 100)]])
        assert found == [row["id"] for row in quants if test(row["quantity"])]


def test_optional_equality(s17: OdooState) -> None:
    everything = s17.call("stock.warehouse", "search", [[("code", "=?", False)]])
    assert len(everything) == 3
    assert len(s17.call("stock.warehouse", "search", [[("code", "=?", "EAST")]])) == 1


def test_like_family(s17: OdooState) -> None:
    shelves = [f"{w}/Stock/Shelf {n}" for w in ("EAST", "MAIN", "WEST") for n in (1, 2)]
    assert names(s17, [("complete_name", "ilike", "stock/shelf")]) == shelves
    assert names(s17, [("complete_name", "like", "stock/shelf")]) == []
    assert names(s17, [("complete_name", "like", "Stock/Shelf")]) == shelves
    assert names(s17, [("complete_name", "=like", "MAIN/Stock/%")]) == [
        "MAIN/Stock/Damaged",
        "MAIN/Stock/QC",
        "MAIN/Stock/Shelf 1",
        "MAIN/Stock/Shelf 2",
    ]
    assert names(s17, [("complete_name", "=ilike", "main/stock")]) == ["MAIN/Stock"]
    assert names(s17, [("complete_name", "=like", "MAIN/Stock/Shelf _")]) == [
        "MAIN/Stock/Shelf 1",
        "MAIN/Stock/Shelf 2",
    ]
    not_like = names(s17, [("complete_name", "not like", "/")])
    assert not_like == [
        "EAST",
        "MAIN",
        "Partners",
        "Physical Locations",
        "Virtual Locations",
        "WEST",
    ]
    assert names(s17, [("complete_name", "not ilike", "S")]) == ["MAIN"]


def test_child_of_and_parent_of(s17: OdooState) -> None:
    main = location(s17, "MAIN")
    assert names(s17, [("id", "child_of", main)]) == [
        "MAIN",
        "MAIN/Stock",
        "MAIN/Stock/Damaged",
        "MAIN/Stock/QC",
        "MAIN/Stock/Shelf 1",
        "MAIN/Stock/Shelf 2",
    ]
    assert names(s17, [("id", "parent_of", location(s17, "MAIN/Stock/QC"))]) == [
        "MAIN",
        "MAIN/Stock",
        "MAIN/Stock/QC",
        "Physical Locations",
    ]
    in_main = s17.call("stock.quant", "search", [[("location_id", "child_of", main)]])
    by_path = s17.call("stock.quant", "search", [[("location_id.complete_name", "=like", "MAIN%")]])
    assert in_main == by_path and in_main


def test_any_and_not_any(s17: OdooState) -> None:
    internal = s17.call(
        "stock.quant", "search", [[("location_id", "any", [("usage", "=", "internal")])]]
    )
    by_path = s17.call("stock.quant", "search", [[("location_id.usage", "=", "internal")]])
    assert internal == by_path
    other = s17.call(
        "stock.quant", "search", [[("location_id", "not any", [("usage", "=", "internal")])]]
    )
    assert not set(internal) & set(other)
    assert len(internal) + len(other) == s17.call("stock.quant", "search_count", [[]])


def test_any_is_refused_before_17() -> None:
    state = build_state(16, skus=20, seed=1)
    with pytest.raises(ValueError, match="Invalid leaf"):
        state.call(
            "stock.quant", "search", [[("location_id", "any", [("usage", "=", "internal")])]]
        )


def test_prefix_operators_and_implicit_and(s17: OdooState) -> None:
    either = names(s17, ["|", ("complete_name", "=", "MAIN"), ("complete_name", "=", "EAST")])
    assert either == ["EAST", "MAIN"]
    negated = names(s17, ["!", ("usage", "!=", "view")])
    assert negated == [
        "EAST",
        "MAIN",
        "Partners",
        "Physical Locations",
        "Virtual Locations",
        "WEST",
    ]
    both = names(s17, [("usage", "=", "internal"), ("complete_name", "ilike", "east/")])
    explicit = names(s17, ["&", ("usage", "=", "internal"), ("complete_name", "ilike", "east/")])
    assert both == explicit and len(both) == 5
    nested = names(
        s17,
        [
            "&",
            "|",
            ("name", "=", "QC"),
            ("name", "=", "Damaged"),
            ("complete_name", "=like", "WEST/%"),
        ],
    )
    assert nested == ["WEST/Stock/Damaged", "WEST/Stock/QC"]


def test_dotted_paths_and_related_fields(s17: OdooState) -> None:
    skus = ["SKU-000001", "SKU-000002"]
    quants = s17.call(
        "stock.quant",
        "search_read",
        [
            [
                ("product_id.default_code", "in", skus),
                ("location_id.usage", "in", ["internal", "transit"]),
            ],
            ["product_id", "warehouse_id"],
        ],
    )
    assert {row["product_id"][1].split("]")[0][1:] for row in quants} == set(skus)
    main = s17.call("stock.warehouse", "search", [[("code", "=", "MAIN")]])[0]
    in_main = s17.call(
        "stock.quant",
        "search_read",
        [[("warehouse_id", "=", main)], ["warehouse_id", "location_id"]],
    )
    assert in_main and all(row["warehouse_id"][0] == main for row in in_main)
    assert all(row["location_id"][1].startswith("MAIN") for row in in_main)


def test_many2one_compared_to_a_name(s17: OdooState) -> None:
    found = s17.call(
        "stock.quant",
        "search_read",
        [[("location_id", "ilike", "west/stock/shelf")], ["location_id"]],
    )
    assert found and {row["location_id"][1] for row in found} <= {
        "WEST/Stock/Shelf 1",
        "WEST/Stock/Shelf 2",
    }


def test_active_filter_is_implicit_unless_active_is_in_the_domain(s17: OdooState) -> None:
    active = s17.call("product.product", "search_count", [[]])
    archived = s17.call("product.product", "search_count", [[("active", "=", False)]])
    everything = s17.call(
        "product.product", "search_count", [["|", ("active", "=", True), ("active", "=", False)]]
    )
    assert archived > 0 and everything == active + archived
    # many2one paths do not filter archived targets: their quants are still found
    archived_quants = s17.call("stock.quant", "search_count", [[("product_id.active", "=", False)]])
    assert archived_quants > 0


def test_ordering_and_paging(s17: OdooState) -> None:
    ordered = s17.call(
        "stock.quant", "search_read", [[], ["write_date"]], {"order": "write_date asc, id asc"}
    )
    keys = [(row["write_date"], row["id"]) for row in ordered]
    assert keys == sorted(keys)
    page = s17.call(
        "stock.quant", "search", [[]], {"order": "write_date asc, id asc", "offset": 5, "limit": 7}
    )
    assert page == [row["id"] for row in ordered[5:12]]
    desc = s17.call("stock.quant", "search", [[]], {"order": "id desc", "limit": 3})
    assert desc == sorted((row["id"] for row in ordered), reverse=True)[:3]
    codes = s17.call(
        "product.product",
        "search_read",
        [[("default_code", "!=", False)], ["default_code"]],
        {"order": "default_code desc", "limit": 5},
    )
    assert [r["default_code"] for r in codes] == sorted(
        (r["default_code"] for r in codes), reverse=True
    )


def test_keyset_paging_reads_everything_once(s17: OdooState) -> None:
    domain = [("location_id.usage", "in", ["internal", "transit"])]
    expected = s17.call("stock.quant", "search", [domain], {"order": "id"})
    seen: list[int] = []
    last = 0
    while True:
        rows = s17.call(
            "stock.quant",
            "search_read",
            [[("id", ">", last), *domain], ["quantity"]],
            {"limit": 37, "order": "id"},
        )
        if not rows:
            break
        seen += [row["id"] for row in rows]
        last = rows[-1]["id"]
    assert seen == expected


def test_search_count_with_limit(s17: OdooState) -> None:
    assert s17.call("stock.quant", "search_count", [[]], {"limit": 5}) == 5


def test_load_none_returns_bare_ids(s17: OdooState) -> None:
    classic = s17.call("stock.quant", "search_read", [[], ["product_id", "lot_id"]], {"limit": 1})
    bare = s17.call(
        "stock.quant", "search_read", [[], ["product_id", "lot_id"]], {"limit": 1, "load": None}
    )
    assert classic[0]["product_id"][0] == bare[0]["product_id"]
    assert bare[0]["lot_id"] is False or isinstance(bare[0]["lot_id"], int)


def test_errors(s17: OdooState) -> None:
    with pytest.raises(ValueError, match="Invalid leaf"):
        s17.call("stock.quant", "search", [[("quantity", "~", 1)]])
    with pytest.raises(ValueError, match="Invalid field"):
        s17.call("stock.quant", "search", [[("nope", "=", 1)]])
    with pytest.raises(ValueError, match="cannot be searched"):
        s17.call("stock.quant", "search", [[("available_quantity", ">", 1)]])
    with pytest.raises(ValueError, match="Invalid field"):
        s17.call("stock.quant", "search_read", [[], ["nope"]])
    with pytest.raises(ValueError, match="Invalid field"):
        s17.call("stock.quant", "search", [[]], {"order": "nope"})
