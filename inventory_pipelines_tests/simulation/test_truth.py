"""The simulation's truth: what could be fulfilled, with warehouses going offline and back."""

from __future__ import annotations

from inventory_pipelines.simulation.world import Truth


def truth() -> Truth:
    """Shopify ships from MAIN, Amazon from MAIN and WEST; 2 units in MAIN, 3 in WEST."""
    return Truth(
        shelf={("A", "MAIN"): 2, ("A", "WEST"): 3},
        eligible={"shopify": ["MAIN"], "amazon": ["MAIN", "WEST"]},
    )


def test_an_order_accepted_while_its_warehouse_was_online_is_kept_from_it_after_it_goes_offline():
    world = truth()
    assert world.consume("amazon", "A", 3) == 0  # WEST can ship them
    world.offline.add("WEST")
    # Amazon's 3 units wait for WEST: MAIN's 2 are still Shopify's to sell
    assert world.for_channel("shopify", "A") == 2
    assert world.consume("shopify", "A", 2) == 0
    # nothing may leave WEST while it holds Amazon's promise
    assert world.remove("A", "WEST", 1) == 0


def test_an_order_accepted_while_a_warehouse_is_offline_counts_only_on_the_online_ones():
    world = truth()
    world.offline.add("WEST")
    assert world.for_channel("amazon", "A") == 2  # MAIN only
    assert world.consume("amazon", "A", 3) == 1  # one unit oversold
    assert world.for_channel("shopify", "A") == 0  # MAIN's units are promised to Amazon
    world.offline.discard("WEST")
    # WEST is back: Amazon's 3 units (the oversold one a backorder) can ship from it; MAIN's
    # are free for either channel
    assert world.for_channel("amazon", "A") == 2
    assert world.for_channel("shopify", "A") == 2


def test_units_that_arrive_go_to_the_oversold_orders_first():
    """An oversold order waits in Odoo for the next units: a receipt fills it before any
    later shopper can count on them."""
    world = truth()
    assert world.consume("shopify", "A", 3) == 1  # MAIN has 2: one unit oversold
    assert world.for_channel("shopify", "A") == 0
    world.add("A", "MAIN", 1)
    assert world.for_channel("shopify", "A") == 0  # the backorder takes it
    world.add("A", "MAIN", 1)
    assert world.for_channel("shopify", "A") == 1
    assert world.for_channel("amazon", "A") == 4  # WEST's 3 and MAIN's last
