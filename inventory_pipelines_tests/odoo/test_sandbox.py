"""The client against the Odoo emulator: every protocol on every version that has it.

The emulator is a real HTTP server on the loopback with its own state; what the frames hold is
checked against that state (its models layer, no HTTP), and its fault injection and request
counter show how the client behaves when Odoo is slow, flaky or down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from inventory_pipelines.odoo import (
    LOCATIONS_SCHEMA,
    PRODUCTS_SCHEMA,
    QUANTS_SCHEMA,
    OdooAccessError,
    OdooAuthenticationError,
    OdooCircuitOpenError,
    OdooClient,
    OdooConfig,
    OdooError,
    OdooMissingError,
    OdooUnavailableError,
    read_locations,
    read_products,
    read_quants,
)
from inventory_pipelines.sandbox.odoo import OdooSandbox

PASSWORD = "pw-5d0c9a71e2"
API_KEY = "key-e81f4b06c3"

CASES = [
    (16, "jsonrpc"),
    (16, "xmlrpc"),
    (17, "jsonrpc"),
    (17, "xmlrpc"),
    (18, "jsonrpc"),
    (18, "xmlrpc"),
    (19, "jsonrpc"),
    (19, "xmlrpc"),
    (19, "json2"),
]
CASE_IDS = [f"odoo{v}-{p}" for v, p in CASES]
STOCK_DOMAIN = [["location_id.usage", "in", ["internal", "transit"]]]
WITH_ARCHIVED = {"active_test": False}

# Fast backoff: the tests are about how many requests are sent, not how long we wait.
FAST = {"backoff_initial_s": 0.005, "backoff_max_s": 0.02}


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[OdooSandbox]:
    """A fresh emulator of the version the test is parametrized with (17 by default)."""
    version = getattr(request, "param", 17)
    with OdooSandbox(
        version=version, skus=200, seed=7, port=0, password=PASSWORD, api_key=API_KEY
    ) as odoo:
        yield odoo


def connect(odoo: OdooSandbox, protocol: str = "auto", **overrides: Any) -> OdooClient:
    """A client of the emulator; JSON-2 gets the API key, the others the password."""
    secret = odoo.api_key if protocol == "json2" else odoo.password
    config = OdooConfig(odoo.url, odoo.db, odoo.login, secret, protocol=protocol, **overrides)
    return OdooClient(config)


def truth(odoo: OdooSandbox, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Ask the emulator's models layer directly, without HTTP."""
    return odoo.state.call(model, method, list(args), kwargs, context=WITH_ARCHIVED)


@pytest.mark.parametrize(("sandbox", "protocol"), CASES, ids=CASE_IDS, indirect=["sandbox"])
def test_products_are_read_with_units_and_storability(sandbox: OdooSandbox, protocol: str) -> None:
    with connect(sandbox, protocol) as client:
        products = read_products(client)
        assert client.protocol == protocol

    assert products.schema == PRODUCTS_SCHEMA
    expected = truth(sandbox, "product.product", "search_read", [], fields=["default_code"])
    assert sorted(products["product_id"]) == sorted(r["id"] for r in expected)
    by_id = {r["id"]: r["default_code"] or None for r in expected}
    assert dict(products.select("product_id", "sku").iter_rows()) == by_id
    assert products["active"].value_counts().height == 2, "archived products are included"
    assert products["storable"].any() and not products["storable"].all()
    ratios = {u: sandbox.state.uom_ratio(u) for u in products["uom_id"].unique()}
    assert products["factor"].to_list() == pytest.approx([ratios[u] for u in products["uom_id"]])
    assert products.filter(pl.col("factor") != 1.0).height > 0, "some products in packs"
    reference = products.filter(pl.col("uom") == pl.col("base_uom"))
    assert reference.height > 0 and (reference["factor"] == 1.0).all()


@pytest.mark.parametrize(("sandbox", "protocol"), CASES, ids=CASE_IDS, indirect=["sandbox"])
def test_locations_are_read_with_warehouse_codes(sandbox: OdooSandbox, protocol: str) -> None:
    with connect(sandbox, protocol) as client:
        locations = read_locations(client)

    assert locations.schema == LOCATIONS_SCHEMA
    assert locations.height == truth(sandbox, "stock.location", "search_count", [])
    codes = {
        r["code"] for r in truth(sandbox, "stock.warehouse", "search_read", [], fields=["code"])
    }
    internal = locations.filter(pl.col("usage") == "internal")
    assert set(internal["warehouse_code"]) == codes


@pytest.mark.parametrize(("sandbox", "protocol"), CASES, ids=CASE_IDS, indirect=["sandbox"])
def test_quants_in_stock_locations_are_read(sandbox: OdooSandbox, protocol: str) -> None:
    fields = ["product_id", "location_id", "lot_id", "quantity", "reserved_quantity"]
    with connect(sandbox, protocol, page_size=100) as client:
        quants = read_quants(client)
        locations = read_locations(client)

    assert quants.schema == QUANTS_SCHEMA
    expected = truth(sandbox, "stock.quant", "search_read", STOCK_DOMAIN, fields=fields, load=None)
    assert quants.height == len(expected) > 100, "several pages"
    assert quants["quant_id"].is_unique().all()
    stock = locations.filter(pl.col("usage").is_in(["internal", "transit"]))["location_id"]
    assert quants["location_id"].is_in(stock.implode()).all()
    first = min(expected, key=lambda r: r["id"])
    row = quants.filter(pl.col("quant_id") == first["id"]).row(0, named=True)
    assert row["quantity"] == first["quantity"]
    assert row["reserved_quantity"] == first["reserved_quantity"]
    assert row["lot_id"] == (first["lot_id"] or None)
    assert quants["lot_id"].null_count() > 0 and quants["lot_id"].is_not_null().any()


@pytest.mark.parametrize("sandbox", [19], indirect=True)
def test_every_protocol_reads_the_same_frames(sandbox: OdooSandbox) -> None:
    frames = {}
    for protocol in ("jsonrpc", "xmlrpc", "json2"):
        with connect(sandbox, protocol) as client:
            frames[protocol] = (read_products(client), read_locations(client), read_quants(client))

    for protocol in ("xmlrpc", "json2"):
        for left, right in zip(frames["jsonrpc"], frames[protocol], strict=True):
            assert_frame_equal(left, right)


@pytest.mark.parametrize(
    ("sandbox", "expected"), [(18, "jsonrpc"), (19, "json2")], indirect=["sandbox"]
)
def test_auto_picks_the_protocol_by_version(sandbox: OdooSandbox, expected: str) -> None:
    secret = sandbox.api_key  # an API key works wherever a password does
    config = OdooConfig(sandbox.url, sandbox.db, sandbox.login, secret)
    with OdooClient(config) as client:
        assert client.protocol == expected
        assert read_quants(client).height > 0


def test_products_and_quants_can_be_read_for_a_subset(sandbox: OdooSandbox) -> None:
    with connect(sandbox) as client:
        everything = read_products(client)
        some = everything.filter(pl.col("sku").is_not_null()).head(3)
        products = read_products(client, skus=some["sku"].to_list())
        quants = read_quants(client, product_ids=some["product_id"].to_list())

    assert_frame_equal(products, some)
    assert set(quants["product_id"]) <= set(some["product_id"])
    assert quants.height > 0


def test_a_product_archived_through_the_client_is_still_read(sandbox: OdooSandbox) -> None:
    with connect(sandbox) as client:
        product_id = read_products(client).filter(pl.col("active"))["product_id"][0]
        client.call("product.product", "write", [[product_id], {"active": False}])
        products = read_products(client)

    assert products.filter(pl.col("product_id") == product_id)["active"].to_list() == [False]


@pytest.mark.parametrize("mode", ["503", "close"])
def test_an_outage_fails_fast_with_a_bounded_number_of_requests(
    sandbox: OdooSandbox, mode: str
) -> None:
    with connect(sandbox, max_attempts=4, breaker_failure_threshold=5, **FAST) as client:
        assert client.uid  # the session is up before Odoo goes down
        sandbox.faults.set_outage(mode)
        sandbox.reset_request_count()

        errors = []
        for _ in range(20):
            with pytest.raises(OdooUnavailableError) as info:
                read_quants(client)
            errors.append(info.value)

    # 4 attempts for the first read, 1 more opens the breaker, then not a single request.
    assert sandbox.request_count == 5
    assert all(isinstance(e, OdooCircuitOpenError) for e in errors[2:])


def test_after_an_outage_the_client_recovers_through_one_probe(sandbox: OdooSandbox) -> None:
    config = {"max_attempts": 2, "breaker_failure_threshold": 2, "breaker_reset_s": 0.2, **FAST}
    with connect(sandbox, **config) as client:
        assert client.uid
        sandbox.faults.set_outage(True)
        with pytest.raises(OdooUnavailableError):
            read_quants(client)
        sandbox.faults.set_outage(False)
        with pytest.raises(OdooCircuitOpenError):
            read_quants(client)
        time.sleep(0.25)
        assert read_quants(client).height > 0


@pytest.mark.parametrize(
    ("sandbox", "protocol"), CASES[-3:], ids=CASE_IDS[-3:], indirect=["sandbox"]
)
def test_reads_succeed_through_a_30_percent_error_rate(sandbox: OdooSandbox, protocol: str) -> None:
    with connect(sandbox, protocol) as client:
        expected = read_quants(client)
    sandbox.faults.set_error_rate(0.3, (500, 503))
    sandbox.reset_request_count()

    overrides = {"max_attempts": 8, "breaker_failure_threshold": 10, "page_size": 100, **FAST}
    with connect(sandbox, protocol, **overrides) as client:
        products = read_products(client)
        quants = read_quants(client)

    assert products.height > 0
    assert_frame_equal(quants, expected)
    pages = -(-expected.height // 100) + 1 + 4  # quant pages, and the session and products
    assert sandbox.request_count > pages, "some requests failed and were retried"


def test_a_create_is_not_sent_twice_when_the_answer_is_lost(sandbox: OdooSandbox) -> None:
    with connect(sandbox, **FAST) as client:
        assert client.uid
        before = truth(sandbox, "res.partner", "search_count", [])
        sandbox.faults.fail_next(1, 503)
        sandbox.reset_request_count()

        with pytest.raises(OdooUnavailableError):
            client.call("res.partner", "create", [[{"name": "Once Only"}]])

    assert sandbox.request_count == 1
    assert truth(sandbox, "res.partner", "search_count", []) == before


@pytest.mark.parametrize(("sandbox", "protocol"), CASES, ids=CASE_IDS, indirect=["sandbox"])
def test_server_errors_arrive_typed(sandbox: OdooSandbox, protocol: str) -> None:
    with connect(sandbox, protocol) as client:
        with pytest.raises(OdooMissingError):
            client.call("stock.quant", "frobnicate", [[1]])
        with pytest.raises(OdooMissingError):
            client.call("no.such.model", "search", [[]])
        with pytest.raises(OdooAccessError):
            client.call("stock.quant", "_private", [[1]])


@pytest.mark.parametrize(("sandbox", "protocol"), CASES, ids=CASE_IDS, indirect=["sandbox"])
def test_wrong_credentials_are_an_authentication_error_without_the_secret(
    sandbox: OdooSandbox, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-key-4a7e"
    caplog.set_level(logging.DEBUG)
    config = OdooConfig(sandbox.url, sandbox.db, sandbox.login, wrong, protocol=protocol)

    with OdooClient(config) as client, pytest.raises(OdooAuthenticationError) as info:
        read_quants(client)

    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert wrong not in caplog.text


def test_no_log_line_or_error_holds_the_secret(
    sandbox: OdooSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[OdooError] = []
    with connect(sandbox, "jsonrpc", breaker_failure_threshold=3, **FAST) as client:
        read_products(client)
        sandbox.faults.fail_next(2, 503)
        read_locations(client)
        sandbox.faults.set_outage("close")
        for _ in range(3):
            with pytest.raises(OdooError) as info:
                read_quants(client)
            errors.append(info.value)

    assert "retrying" in caplog.text and "circuit breaker opened" in caplog.text
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in f"{e} {e!r} {e.__cause__!r}" for e in errors)
