"""The Shopify connector against the Shopify sandbox (real HTTP on the loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelThrottledError,
    ChannelUnavailableError,
    QuantityUpdate,
    UpdateStatus,
)
from inventory_pipelines.channels.shopify import SET_QUANTITIES_MUTATION, ShopifyConnector
from inventory_pipelines.sandbox.shopify import ShopifySandbox, gid

FIRST_LOCATION = gid("Location", 60_000_000_001)
SECOND_LOCATION = gid("Location", 60_000_000_002)


class RecordingSleep:
    """A sleep that only records (for tests of retry decisions, not of the bucket)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    """A fresh shop per test (connector tests write and inject faults)."""
    with ShopifySandbox(skus=150, seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def connector(shop: ShopifySandbox) -> Iterator[ShopifyConnector]:
    """A connector on the shop's first location, sleeping for real."""
    with ShopifyConnector(shop.url, shop.access_token, backoff_s=0.01) as conn:
        assert isinstance(conn, ShopifyConnector)
        yield conn


def items(shop: ShopifySandbox, count: int) -> list[tuple[str, str, int]]:
    """``count`` (inventory item gid, sku, available) stocked at the first location."""
    chosen = []
    for variant in sorted(shop.state.variants.values(), key=lambda v: v.id):
        if variant.sku:
            item = variant.inventory_item_id
            chosen.append((gid("InventoryItem", item), variant.sku, shop.state.quantity(item)))
        if len(chosen) == count:
            break
    return chosen


def test_limits_follow_the_cost_bucket(connector: ShopifyConnector) -> None:
    limits = connector.limits()
    assert limits.max_batch == 250
    assert limits.compare_and_set is True
    assert limits.requests_per_s == pytest.approx(10.0)  # 100 points/s over 10 per mutation


def test_read_listings_returns_every_variant_with_its_available_quantity(
    shop: ShopifySandbox, connector: ShopifyConnector
) -> None:
    listings = [listing for page in connector.read_listings() for listing in page]
    assert len(listings) == len(shop.state.variants)
    assert len({listing.listing_id for listing in listings}) == len(listings)
    for listing in listings:
        assert listing.quantity == shop.state.quantity(listing.listing_id)
        assert listing.extra["location_id"] == FIRST_LOCATION
        assert listing.extra["variant_id"].startswith("gid://shopify/ProductVariant/")
    assert any(listing.sku is None for listing in listings)
    assert any(listing.barcode for listing in listings)


def test_listings_at_a_location_that_does_not_stock_an_item_have_no_quantity(
    shop: ShopifySandbox,
) -> None:
    with ShopifyConnector(shop.url, shop.access_token, location_id=SECOND_LOCATION) as conn:
        listings = [listing for page in conn.read_listings() for listing in page]
    unstocked = [listing for listing in listings if not listing.extra["stocked"]]
    assert unstocked
    assert all(listing.quantity is None for listing in unstocked)


def test_publish_is_acknowledged_and_applied(
    shop: ShopifySandbox, connector: ShopifyConnector
) -> None:
    chosen = items(shop, 3)
    updates = [QuantityUpdate(item, sku, qty + 2, qty) for item, sku, qty in chosen]
    results = connector.publish(updates, "batch-ack")
    assert [r.status for r in results] == [UpdateStatus.ACKNOWLEDGED] * 3
    assert [r.quantity for r in results] == [qty + 2 for _, _, qty in chosen]
    assert [shop.state.quantity(item) for item, _, _ in chosen] == [q + 2 for _, _, q in chosen]


def test_a_stale_item_comes_back_stale_with_the_actual_quantity(
    shop: ShopifySandbox, connector: ShopifyConnector
) -> None:
    chosen = items(shop, 3)
    stale_item = chosen[1][0]
    shop.state.sell(stale_item, 1)
    updates = [QuantityUpdate(item, sku, qty + 5, qty) for item, sku, qty in chosen]
    results = connector.publish(updates, "batch-stale")
    assert [r.status for r in results] == [
        UpdateStatus.FAILED,
        UpdateStatus.STALE,
        UpdateStatus.FAILED,
    ]
    assert results[1].quantity == chosen[1][2] - 1
    assert results[0].error == "not applied: batch had a stale item"
    assert [shop.state.quantity(item) for item, _, _ in chosen] == [
        chosen[0][2],
        chosen[1][2] - 1,
        chosen[2][2],
    ]


def test_an_invalid_item_is_rejected_and_the_rest_not_applied(
    shop: ShopifySandbox, connector: ShopifyConnector
) -> None:
    (good, sku, qty), (bad, bad_sku, bad_qty) = items(shop, 2)
    results = connector.publish(
        [QuantityUpdate(good, sku, qty + 1, qty), QuantityUpdate(bad, bad_sku, -3, bad_qty)],
        "batch-reject",
    )
    assert [r.status for r in results] == [UpdateStatus.FAILED, UpdateStatus.REJECTED]
    assert results[1].error is not None and results[1].error.startswith("INVALID_QUANTITY_NEGATIVE")
    assert shop.state.quantity(good) == qty


def test_a_resend_with_the_same_key_does_not_apply_twice(
    shop: ShopifySandbox, connector: ShopifyConnector
) -> None:
    ((item, sku, qty),) = items(shop, 1)
    update = QuantityUpdate(item, sku, qty + 5, qty)
    first = connector.publish([update], "batch-once")
    shop.state.sell(item, 1)  # a sale between the send and the resend
    again = connector.publish([update], "batch-once")
    assert first == again
    assert shop.state.quantity(item) == qty + 4  # not set back to qty + 5
    assert shop.state.applied_mutations == 1


def test_a_5xx_is_retried_with_the_same_key(shop: ShopifySandbox) -> None:
    sleep = RecordingSleep()
    ((item, sku, qty),) = items(shop, 1)
    with ShopifyConnector(
        shop.url, shop.access_token, location_id=FIRST_LOCATION, sleep=sleep
    ) as conn:
        shop.faults.fail_next(2, 503)
        (result,) = conn.publish([QuantityUpdate(item, sku, qty + 1, qty)], "batch-5xx")
    assert result.status is UpdateStatus.ACKNOWLEDGED
    assert shop.request_count == 3
    assert len(sleep.calls) == 2
    assert shop.state.quantity(item) == qty + 1


@pytest.mark.parametrize("mode", [True, "close"], ids=["503", "dropped"])
def test_an_outage_raises_unavailable_after_bounded_retries(
    shop: ShopifySandbox, mode: bool | str
) -> None:
    sleep = RecordingSleep()
    ((item, sku, qty),) = items(shop, 1)
    shop.faults.outage = mode
    with (
        ShopifyConnector(
            shop.url, shop.access_token, location_id=FIRST_LOCATION, sleep=sleep, max_attempts=4
        ) as conn,
        pytest.raises(ChannelUnavailableError, match="after 4 attempts"),
    ):
        conn.publish([QuantityUpdate(item, sku, qty + 1, qty)], "batch-outage")
    assert shop.request_count == 4
    assert conn.api_calls == 4
    assert len(sleep.calls) == 3
    assert all(0 < seconds <= 30.0 for seconds in sleep.calls)


def test_a_timeout_counts_as_unavailable(shop: ShopifySandbox) -> None:
    shop.faults.latency = 0.5
    with (
        ShopifyConnector(
            shop.url,
            shop.access_token,
            location_id=FIRST_LOCATION,
            timeout_s=0.05,
            sleep=RecordingSleep(),
            max_attempts=2,
        ) as conn,
        pytest.raises(ChannelUnavailableError, match="timed out"),
    ):
        list(conn.read_listings())


def test_a_429_honours_retry_after(shop: ShopifySandbox) -> None:
    sleep = RecordingSleep()
    shop.faults.retry_after = 7
    shop.faults.fail_next(1, 429)
    with ShopifyConnector(
        shop.url, shop.access_token, location_id=FIRST_LOCATION, sleep=sleep
    ) as conn:
        pages = list(conn.read_listings())
    assert pages
    assert 7.0 in sleep.calls
    assert conn.throttled == 1


def test_a_throttled_answer_waits_for_the_points_and_retries(shop: ShopifySandbox) -> None:
    ((item, sku, qty),) = items(shop, 1)
    with ShopifyConnector(shop.url, shop.access_token, location_id=FIRST_LOCATION) as conn:
        # empty, restoring 10 points (one mutation) in 0.2 s
        shop.state.bucket.configure(restore_rate=50, currently_available=0)
        (result,) = conn.publish([QuantityUpdate(item, sku, qty + 1, qty)], "batch-throttled")
    assert result.status is UpdateStatus.ACKNOWLEDGED
    assert conn.throttled == 1
    assert shop.throttled_count == 1


def _naive_throttled(shop: ShopifySandbox, batches: int, size: int) -> int:
    """THROTTLED answers a client without pacing gets for the same work."""
    before = shop.throttled_count
    chosen = items(shop, size)
    with httpx.Client(headers={"X-Shopify-Access-Token": shop.access_token}) as client:
        for n in range(batches):
            client.post(
                f"{shop.url}/admin/api/2026-04/graphql.json",
                json={
                    "query": SET_QUANTITIES_MUTATION,
                    "variables": {
                        "key": f"naive-{n}",
                        "input": {
                            "name": "available",
                            "reason": "correction",
                            "quantities": [
                                {
                                    "inventoryItemId": item,
                                    "locationId": FIRST_LOCATION,
                                    "quantity": n,
                                    "changeFromQuantity": None,
                                }
                                for item, _, _ in chosen
                            ],
                        },
                    },
                },
            )
    return shop.throttled_count - before


def test_pacing_keeps_throttled_answers_near_zero(shop: ShopifySandbox) -> None:
    # a small bucket: 40 points, 200 restored per second; each batch costs 10
    shop.state.bucket.configure(maximum_available=40, restore_rate=200, currently_available=40)
    chosen = items(shop, 20)
    acknowledged = 0
    with ShopifyConnector(shop.url, shop.access_token, location_id=FIRST_LOCATION) as conn:
        for n in range(30):
            updates = [QuantityUpdate(item, sku, n, None) for item, sku, _ in chosen]
            results = conn.publish(updates, f"paced-{n}")
            acknowledged += sum(r.status is UpdateStatus.ACKNOWLEDGED for r in results)
    assert acknowledged == 30 * 20
    assert shop.throttled_count <= 2
    assert conn.throttled <= 2
    assert conn.api_calls <= 32
    # the same work without pacing, for contrast (a slower bucket, so that a slow machine
    # cannot hide it): the bucket really does throttle
    shop.state.bucket.configure(restore_rate=20, currently_available=40)
    assert _naive_throttled(shop, 30, 20) > 5


def test_bad_credentials_raise_auth_error_without_leaking_the_token(shop: ShopifySandbox) -> None:
    secret = "shpat_this_is_secret_123"
    with ShopifyConnector(shop.url, secret) as conn:
        with pytest.raises(ChannelAuthError) as raised:
            list(conn.read_listings())
        assert secret not in str(raised.value)
        assert secret not in repr(conn)
        assert conn.api_calls == 1


def test_a_throttled_answer_with_http_429_is_handled_too(shop: ShopifySandbox) -> None:
    sleep = RecordingSleep()
    ((item, sku, qty),) = items(shop, 1)
    with ShopifyConnector(
        shop.url, shop.access_token, location_id=FIRST_LOCATION, sleep=sleep
    ) as conn:
        shop.state.throttled_status_code = 429
        shop.state.bucket.configure(restore_rate=10, currently_available=0)
        with pytest.raises(ChannelThrottledError):
            # the recording sleep lets no time pass: the bucket stays short until attempts end
            conn.publish([QuantityUpdate(item, sku, qty + 1, qty)], "batch-429")
    assert conn.throttled == conn.max_throttled_attempts
    assert sleep.calls and all(0 < seconds <= 1.5 for seconds in sleep.calls)
    assert shop.state.quantity(item) == qty


def test_read_listings_shrinks_pages_that_cannot_fit_a_small_bucket(shop: ShopifySandbox) -> None:
    # 100 points: a page of 100 variants (402 points) could never be served
    shop.state.bucket.configure(maximum_available=100, restore_rate=2000, currently_available=100)
    with ShopifyConnector(shop.url, shop.access_token, location_id=FIRST_LOCATION) as conn:
        pages = list(conn.read_listings())
    assert sum(len(page) for page in pages) == len(shop.state.variants)
    assert max(len(page) for page in pages) <= 24
