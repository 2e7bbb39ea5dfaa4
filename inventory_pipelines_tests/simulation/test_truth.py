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


def test_a_ring_fenced_channel_owns_its_share_and_its_sales_take_from_it_alone():
    """Shopify and Amazon fenced at half each of MAIN's 4 units: Shopify's 2 sales empty its
    fence, not Amazon's, though the shelf still holds 2 units Shopify could ship; 2 units that
    arrive are shared out by the shares."""
    world = Truth(
        shelf={("A", "MAIN"): 4},
        eligible={"shopify": ["MAIN"], "amazon": ["MAIN"]},
        fences={"shopify": 0.5, "amazon": 0.5},
    )
    assert world.for_channel_by_rules("shopify", "A") == 2
    assert world.consume("shopify", "A", 2) == 0
    assert world.for_channel("shopify", "A") == 2  # on the shelf, but Amazon's
    assert world.for_channel_by_rules("shopify", "A") == 0
    assert world.for_channel_by_rules("amazon", "A") == 2
    world.add("A", "MAIN", 2)
    assert world.for_channel_by_rules("shopify", "A") == 1
    assert world.for_channel_by_rules("amazon", "A") == 3


def test_a_fence_is_never_more_than_the_channel_could_promise_and_the_shared_pool_is_all():
    """WooCommerce on the shared pool sees every unit it could promise; Shopify's fence of 90%
    is capped by what is left after WooCommerce's order."""
    world = Truth(
        shelf={("A", "MAIN"): 10},
        eligible={"shopify": ["MAIN"], "woocommerce": ["MAIN"]},
        fences={"shopify": 0.9},
    )
    assert world.for_channel_by_rules("woocommerce", "A") == 10
    assert world.consume("woocommerce", "A", 5) == 0
    assert world.for_channel_by_rules("woocommerce", "A") == 5
    assert world.for_channel_by_rules("shopify", "A") == 4  # 90% of 5, rounded down


def test_an_order_odoo_reserved_keeps_its_units_where_odoo_put_it_for_the_channels_share():
    """MAIN 1 unit, WEST 1. Amazon's order went to MAIN in Odoo: it could still ship from WEST
    (Shopify could promise MAIN's unit, no order oversold), but Odoo holds MAIN's unit for it,
    so the unit is not Shopify's to sell."""
    world = Truth(
        shelf={("A", "MAIN"): 1, ("A", "WEST"): 1},
        eligible={"shopify": ["MAIN"], "amazon": ["MAIN", "WEST"]},
    )
    assert world.consume("amazon", "A", 1) == 0
    assert world.for_channel_by_rules("shopify", "A") == 1  # not in Odoo yet: either way
    world.pin("A", "amazon", "MAIN", 1)
    assert world.for_channel("shopify", "A") == 1
    assert world.for_channel_by_rules("shopify", "A") == 0
    assert world.for_channel_by_rules("amazon", "A") == 1  # WEST's


def test_a_backorder_odoo_holds_in_one_warehouse_takes_nothing_from_another():
    """MAIN 2, WEST 1. Amazon's order of 3 went to WEST in Odoo: 1 reserved, 2 waiting for
    WEST's next units; MAIN's 2 stay free in Odoo (though every routing would need them)."""
    world = Truth(
        shelf={("A", "MAIN"): 2, ("A", "WEST"): 1},
        eligible={"shopify": ["MAIN"], "amazon": ["MAIN", "WEST"]},
    )
    assert world.consume("amazon", "A", 3) == 0
    world.pin("A", "amazon", "WEST", 3)
    assert world.for_channel("shopify", "A") == 0
    assert world.for_channel(channel="shopify", sku="A", as_reserved=True) == 2
    world.add("A", "WEST", 2)  # the backorder takes them
    assert world.for_channel(channel="amazon", sku="A", as_reserved=True) == 2


def test_a_fenced_sale_odoo_shipped_from_a_warehouse_a_channel_does_not_sell_from_is_not_its():
    """Shopify (MAIN) and WooCommerce (MAIN, WEST) fenced at half each; MAIN 2, WEST 2.
    WooCommerce's sale is pending: it may take from MAIN, so it counts against Shopify's pool
    and is added back to its base. Once Odoo reserved it in WEST it never took from Shopify's
    pool: Shopify's fence is half of MAIN's 2, as before the sale (added back, the sale would
    make it half of 4: 2, a unit of WooCommerce's sale turned into Shopify's)."""
    world = Truth(
        shelf={("A", "MAIN"): 2, ("A", "WEST"): 2},
        eligible={"shopify": ["MAIN"], "woocommerce": ["MAIN", "WEST"]},
        fences={"shopify": 0.5, "woocommerce": 0.5},
    )
    assert world.for_channel_by_rules("shopify", "A") == 1
    assert world.consume("woocommerce", "A", 2) == 0
    world.pin("A", "woocommerce", "WEST", 2)
    assert world.for_channel("shopify", "A", as_reserved=True) == 2
    assert world.for_channel_by_rules("shopify", "A") == 1
    assert world.for_channel_by_rules("woocommerce", "A") == 0  # half of 4, less its 2
