"""Pending units on the drop-ship route: they count against the vendors' stock, not the
warehouse's, and consume no fence (revision 0008, `pending_units.dropship_quantity`)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

from inventory_pipelines.ledger import create_engine, fences, inbox, migrate
from inventory_pipelines.ledger.db import alembic_config, current_revision
from inventory_pipelines_tests.ledger.test_inbox import event


def test_units_on_the_drop_ship_route_leave_the_shelf_pending_and_the_fence_alone(
    conn: sa.Connection,
) -> None:
    epoch = fences.current_epoch(conn, "{}")
    inbox.receive(conn, [event("1", pending={"A": 5, "B": 2}), event("2", pending={"A": 1})])
    assert inbox.set_dropship(conn, "shopify", "1", {"A": 3}) == 2
    assert inbox.pending_by_sku(conn, None) == {"A": 3, "B": 2}  # 5 - 3 + 1
    assert fences.sales_since(conn, epoch) == {("shopify", "A", None): 3, ("shopify", "B", None): 2}
    assert inbox.order_pending(conn, "shopify", "1") == {"A": (5, 3), "B": (2, 0)}
    [(sku, units, reserved_at)] = inbox.pending_dropship_rows(conn)
    assert (sku, units, reserved_at) == ("A", 3, None)
    # an order's split reads its own SKUs only
    assert inbox.pending_dropship_rows(conn, ["A", "Z"]) == [("A", 3, None)]
    assert inbox.pending_dropship_rows(conn, ["B"]) == []
    # into Odoo: reserved from then on, the drop-ship units still listed with that moment
    inbox.mark_reserved(conn, "shopify", "1")
    [(_, _, reserved_at)] = inbox.pending_dropship_rows(conn)
    assert reserved_at is not None
    # a cancellation before Odoo releases them all
    inbox.release_pending(conn, "shopify", "2")
    assert inbox.pending_by_sku(conn, reserved_at + dt.timedelta(seconds=1)) == {}


def test_a_new_split_replaces_the_previous_one_and_a_bad_one_changes_nothing(
    conn: sa.Connection,
) -> None:
    inbox.receive(conn, [event("1", pending={"A": 5, "B": 2})])
    inbox.set_dropship(conn, "shopify", "1", {"A": 3, "B": 2})
    inbox.set_dropship(conn, "shopify", "1", {"B": 1})
    assert inbox.order_pending(conn, "shopify", "1") == {"A": (5, 0), "B": (2, 1)}
    for wrong in ({"A": 6}, {"C": 1}, {"A": -1}):
        with pytest.raises(ValueError, match="shopify/1"):
            inbox.set_dropship(conn, "shopify", "1", wrong)
    assert inbox.order_pending(conn, "shopify", "1") == {"A": (5, 0), "B": (2, 1)}


def test_the_ledger_refuses_more_drop_ship_units_than_the_row_holds(conn: sa.Connection) -> None:
    from inventory_pipelines.ledger.schema import pending_units

    inbox.receive(conn, [event("1", pending={"A": 2})])
    with pytest.raises(sa.exc.IntegrityError):
        conn.execute(pending_units.update().values(dropship_quantity=3))
    conn.rollback()


def test_a_ledger_at_0007_upgrades_to_drop_ship_units_and_back(ledger_url: str) -> None:
    migrate(ledger_url, "0007")
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            inbox.receive(conn, [event("1", pending={"A": 4})])
        migrate(ledger_url, "0008")
        with engine.connect() as conn:
            assert current_revision(conn) == "0008"
            assert inbox.order_pending(conn, "shopify", "1") == {"A": (4, 0)}  # all the shelf's
            command.downgrade(alembic_config(conn), "0007")
            conn.commit()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("pending_units")}
        assert "dropship_quantity" not in columns and "quantity" in columns
    finally:
        engine.dispose()
