"""Bad channel payloads the rest of the suite does not already show (see kinds.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox


@pytest.fixture(scope="module")
def portal() -> Iterator[GenericChannelSandbox]:
    with GenericChannelSandbox(listings=30, seed=5) as sandbox:
        yield sandbox


@pytest.mark.bad_input
@pytest.mark.parametrize("shown", ["lots", "2.5", 2.5, [3], True, {"n": 1}, 1e30])
def test_a_listing_showing_no_whole_quantity_is_read_as_unknown_and_the_catalog_goes_on(
    portal: GenericChannelSandbox, caplog: pytest.LogCaptureFixture, shown: Any
) -> None:
    listings = list(portal.state.listings.values())
    bad = listings[7]
    kept = bad.quantity
    bad.quantity = shown  # what a POS system or a portal's plugin may send
    try:
        with (
            caplog.at_level(logging.WARNING, logger="inventory_pipelines.channels"),
            GenericChannelConnector(portal.url, portal.secret, per_page=10) as connector,
        ):
            read = {x.listing_id: x for page in connector.read_listings() for x in page}
    finally:
        bad.quantity = kept
    assert read[bad.listing_id].quantity is None
    assert (read[bad.listing_id].sku, read[bad.listing_id].barcode) == (bad.sku, bad.barcode)
    others = [x for x in listings if x is not bad]
    assert {x.listing_id: read[x.listing_id].quantity for x in others} == {
        x.listing_id: x.quantity for x in others
    }
    [said] = [r.getMessage() for r in caplog.records if bad.listing_id in r.getMessage()]
    assert said.startswith(f"generic listing {bad.listing_id} shows quantity ")
    assert said.endswith("not a whole number: read as unknown")


def test_a_whole_quantity_sent_as_text_is_read_as_that_number(
    portal: GenericChannelSandbox,
) -> None:
    listing = list(portal.state.listings.values())[3]
    kept = listing.quantity
    listing.quantity = " 12 "
    try:
        with GenericChannelConnector(portal.url, portal.secret, per_page=10) as connector:
            read = {x.listing_id: x for page in connector.read_listings() for x in page}
    finally:
        listing.quantity = kept
    assert read[listing.listing_id].quantity == 12


@pytest.mark.bad_input
def test_a_woocommerce_stock_quantity_of_a_fraction_is_read_as_unknown_not_cut_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WooCommerceSandbox(products=12, seed=9) as woo:
        simple = [i for i in woo.state.products() if i.type == "simple" and i.manage_stock]
        bad = simple[0]
        bad.stock_quantity = 2.5  # a plugin for quantities by weight or length
        connector = WooCommerceConnector(woo.url, woo.consumer_key, woo.consumer_secret)
        with caplog.at_level(logging.WARNING, logger="inventory_pipelines.channels"), connector:
            read = {x.listing_id: x for page in connector.read_listings() for x in page}
    assert read[f"product:{bad.id}"].quantity is None
    assert all(read[f"product:{i.id}"].quantity == i.stock_quantity for i in simple[1:])
    [said] = [r.getMessage() for r in caplog.records if f"product:{bad.id}" in r.getMessage()]
    assert said.startswith(f"woocommerce listing product:{bad.id} shows quantity 2.5")
