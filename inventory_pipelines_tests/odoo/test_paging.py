"""Keyset paging: `id >` the last id, ordered by id, until a short page."""

from __future__ import annotations

from typing import Any

import pytest

from inventory_pipelines.odoo import OdooServerError
from inventory_pipelines_tests.odoo.conftest import ClientFactory, FakeOdoo

RECORDS = [{"id": i, "quantity": float(i)} for i in range(1, 26)]


def keyset_search_read(args: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """search_read over RECORDS that honours only the leading `id >` leaf and the limit."""
    domain = args[0] if args else kwargs["domain"]  # JSON-2 names every argument
    field, operator, last_id = domain[0]
    assert (field, operator) == ("id", ">")
    assert kwargs["order"] == "id"
    return [r for r in RECORDS if r["id"] > last_id][: kwargs["limit"]]


@pytest.fixture
def quants(fake: FakeOdoo) -> FakeOdoo:
    fake.on("stock.quant", "search_read", keyset_search_read)
    return fake


def test_pages_follow_the_last_id_and_stop_at_a_short_page(
    quants: FakeOdoo, make_client: ClientFactory
) -> None:
    client = make_client()
    domain = [["location_id.usage", "in", ["internal"]]]

    pages = list(client.search_read_pages("stock.quant", domain, ["quantity"], page_size=10))

    assert [len(p) for p in pages] == [10, 10, 5]
    calls = quants.object_calls()
    assert [c.args[0] for c in calls] == [
        [["id", ">", 0], *domain],
        [["id", ">", 10], *domain],
        [["id", ">", 20], *domain],
    ]
    assert all(
        c.kwargs == {"fields": ["quantity"], "order": "id", "limit": 10, "load": None}
        for c in calls
    )


def test_a_full_last_page_costs_one_empty_page(
    quants: FakeOdoo, make_client: ClientFactory
) -> None:
    pages = list(make_client().search_read_pages("stock.quant", [], ["id"], page_size=5))

    assert [len(p) for p in pages] == [5, 5, 5, 5, 5]
    assert len(quants.object_calls()) == 6


def test_search_read_all_returns_every_record_once_in_id_order(
    quants: FakeOdoo, make_client: ClientFactory
) -> None:
    records = make_client(page_size=7).search_read_all("stock.quant", [], ["quantity"])

    assert records == RECORDS


def test_the_context_travels_with_every_page(quants: FakeOdoo, make_client: ClientFactory) -> None:
    client = make_client()
    context = {"active_test": False}

    client.search_read_all("stock.quant", [], ["id"], page_size=10, context=context)

    assert all(c.kwargs["context"] == context for c in quants.object_calls())


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
def test_paging_is_the_same_on_every_protocol(
    quants: FakeOdoo, make_client: ClientFactory, protocol: str
) -> None:
    quants.major = 19

    records = make_client(protocol=protocol).search_read_all(
        "stock.quant", [], ["quantity"], page_size=10
    )

    assert records == RECORDS


def test_search_count_passes_the_domain(fake: FakeOdoo, make_client: ClientFactory) -> None:
    fake.on(
        "stock.quant", "search_count", lambda args, kwargs: 25 if args == [[["a", "=", 1]]] else 0
    )

    assert make_client().search_count("stock.quant", [["a", "=", 1]]) == 25


def test_paging_stops_with_an_error_when_the_server_ignores_the_order(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("stock.quant", "search_read", lambda args, kwargs: RECORDS[:5][::-1])

    with pytest.raises(OdooServerError, match="did not advance"):
        make_client().search_read_all("stock.quant", [], ["id"], page_size=5)
