"""`spare_scarce` routing's choice of warehouse, on figures (the Odoo path is in test_ingest)."""

from __future__ import annotations

import pytest

from inventory_pipelines.orders.ingest import spare_scarce_choice

# Amazon sells from MAIN, EAST and WEST; Shopify from MAIN and EAST; WooCommerce from MAIN, WEST
AMAZON = ["MAIN", "EAST", "WEST"]
OTHERS = {"shopify": ["MAIN", "EAST"], "woocommerce": ["MAIN", "WEST"]}
P = 7  # the product ordered


def choose(free: dict[str, float], units: float = 1.0) -> str:
    return spare_scarce_choice(
        AMAZON, OTHERS, {code: {P: quantity} for code, quantity in free.items()}, {P: units}
    )


@pytest.mark.parametrize(
    ("free", "chosen", "why"),
    [
        ({"MAIN": 5, "EAST": 0, "WEST": 0}, "MAIN", "the only one that covers it"),
        ({"MAIN": 5, "EAST": 1, "WEST": 1}, "EAST", "MAIN would cost both others a unit"),
        ({"MAIN": 0, "EAST": 4, "WEST": 1}, "EAST", "WooCommerce has less left than Shopify"),
        ({"MAIN": 0, "EAST": 1, "WEST": 4}, "WEST", "Shopify has less left"),
        ({"MAIN": 0, "EAST": 2, "WEST": 2}, "EAST", "equals: by priority"),
        ({"MAIN": 1, "EAST": 0, "WEST": 0.5}, "MAIN", "none covers 2: the one covering most"),
    ],
)
def test_spare_scarce_ships_from_the_warehouse_the_other_channels_need_least(
    free, chosen, why
) -> None:
    units = 2.0 if "none covers" in why else 1.0
    assert choose(free, units) == chosen, why


def test_a_channel_with_no_other_channel_beside_it_ships_by_priority() -> None:
    assert spare_scarce_choice(AMAZON, {}, {c: {P: 3.0} for c in AMAZON}, {P: 1.0}) == "MAIN"
