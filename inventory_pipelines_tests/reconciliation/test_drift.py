"""Drift and its causes, on small frames: one behaviour per test, the precedence between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from inventory_pipelines.inventory.schemas import validate
from inventory_pipelines.reconciliation import (
    CAUSES,
    LedgerFacts,
    Level,
    drift,
    expected_per_listing,
    sales_horizon,
    summarize,
    verdict,
)
from inventory_pipelines.reconciliation.drift import (
    ACKNOWLEDGED_SCHEMA,
    DEAD_LETTERS_SCHEMA,
    DROPS_SCHEMA,
    EXPECTED_SCHEMA,
    READ_BACK_SCHEMA,
    SALES_SCHEMA,
)
from inventory_pipelines.reconciliation.schemas import DriftSchema
from inventory_pipelines.rules.automation import DriftThresholds

#: the expected figure was computed at T0, the channel read back an hour later
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
EXPECTED_AT = T0
READ_AT = T0 + timedelta(hours=1)
ACKED_AT = T0 - timedelta(hours=1)
NOW = T0 + timedelta(hours=2)


def expected(*rows: tuple[str, str, str | None, int]) -> pl.DataFrame:
    """(channel, sku, listing_id or None, expected), computed at T0."""
    return pl.DataFrame(
        [(c, s, x, q, EXPECTED_AT) for c, s, x, q in rows], schema=EXPECTED_SCHEMA, orient="row"
    )


def read_back(*rows: tuple[str, str, str | None, int | None]) -> pl.DataFrame:
    """(channel, listing_id, the listing's own sku, quantity shown), read at T0 + 1 h."""
    return pl.DataFrame(
        [(c, x, s, q, READ_AT) for c, x, s, q in rows], schema=READ_BACK_SCHEMA, orient="row"
    )


def facts(acknowledged=(), sales=(), dead_letters=(), drops=()) -> LedgerFacts:
    """Ledger facts from tuples: acknowledged (channel, listing, quantity[, at]); sales
    (channel, sku, units, accepted_at); dead letters (channel, listing, id); drops (channel,
    sku, units)."""
    acks = [(*a, ACKED_AT) if len(a) == 3 else a for a in acknowledged]
    return LedgerFacts(
        pl.DataFrame(acks, schema=ACKNOWLEDGED_SCHEMA, orient="row"),
        pl.DataFrame(list(sales), schema=SALES_SCHEMA, orient="row"),
        pl.DataFrame(list(dead_letters), schema=DEAD_LETTERS_SCHEMA, orient="row"),
        pl.DataFrame(list(drops), schema=DROPS_SCHEMA, orient="row"),
    )


def one(frame: pl.DataFrame) -> dict:
    assert frame.height == 1, frame
    return frame.row(0, named=True)


def measure(exp, rb, ledger=None, **kwargs) -> pl.DataFrame:
    frame = drift(exp, rb, ledger or facts(), now=NOW, **kwargs)
    outcome = validate(DriftSchema, frame)
    assert outcome.passed, outcome.summary
    return frame


def test_a_channel_showing_what_it_should_does_not_drift():
    exp = expected(("shop", "A", "L-A", 10), ("shop", "B", "L-B", 0))
    rb = read_back(("shop", "L-A", "A", 10), ("shop", "L-B", "B", 0))
    assert measure(exp, rb, facts(acknowledged=[("shop", "L-A", 10)])).is_empty()


def test_a_channel_still_showing_our_last_acknowledgement_missed_the_update():
    row = one(
        measure(
            expected(("shop", "A", "L-A", 10)),
            read_back(("shop", "L-A", "A", 7)),
            facts(acknowledged=[("shop", "L-A", 7)]),
        )
    )
    assert (row["cause"], row["expected"], row["actual"], row["difference"]) == (
        "missed_update",
        10,
        7,
        -3,
    )
    assert row["acknowledged"] == 7 and row["observed_at"] == READ_AT


def test_a_listing_never_published_that_shows_something_else_missed_the_update():
    row = one(measure(expected(("shop", "A", "L-A", 10)), read_back(("shop", "L-A", "A", 4))))
    assert row["cause"] == "missed_update" and row["acknowledged"] is None
    assert "never published" in row["detail"]


def test_a_read_back_moved_from_our_acknowledgement_without_a_sale_is_a_channel_edit():
    row = one(
        measure(
            expected(("shop", "A", "L-A", 10)),
            read_back(("shop", "L-A", "A", 17)),
            facts(acknowledged=[("shop", "L-A", 10)]),
        )
    )
    assert (row["cause"], row["difference"]) == ("channel_edit", 7)


def test_a_move_of_more_than_the_channel_sold_is_still_an_edit():
    row = one(
        measure(
            expected(("shop", "A", "L-A", 10)),
            read_back(("shop", "L-A", "A", 5)),
            facts(
                acknowledged=[("shop", "L-A", 10)],
                sales=[("shop", "A", 2.0, T0 + timedelta(minutes=30))],
            ),
        )
    )
    assert row["cause"] == "channel_edit"


def test_units_sold_on_the_channel_since_the_expected_figure_are_a_pending_order():
    row = one(
        measure(
            expected(("shop", "A", "L-A", 10)),
            read_back(("shop", "L-A", "A", 8)),
            facts(
                acknowledged=[("shop", "L-A", 10)],
                sales=[("shop", "A", 2.0, T0 + timedelta(minutes=30))],
            ),
        )
    )
    assert (row["cause"], row["difference"]) == ("pending_order", -2)


def test_a_sale_of_another_channel_explains_nothing_here():
    row = one(
        measure(
            expected(("shop", "A", "L-A", 10)),
            read_back(("shop", "L-A", "A", 8)),
            facts(
                acknowledged=[("shop", "L-A", 10)],
                sales=[("woo", "A", 2.0, T0 + timedelta(minutes=30))],
            ),
        )
    )
    assert row["cause"] == "channel_edit"


def test_a_sale_the_expected_figure_holds_is_no_pending_order_and_no_edit():
    """The channel sold 2 before the allocation (which holds them) and Odoo's stock also moved:
    the channel shows our acknowledgement less its sale, the expected figure is elsewhere."""
    row = one(
        measure(
            expected(("shop", "A", "L-A", 5)),
            read_back(("shop", "L-A", "A", 8)),
            facts(
                acknowledged=[("shop", "L-A", 10)],
                sales=[("shop", "A", 2.0, T0 - timedelta(minutes=30))],
            ),
        )
    )
    assert row["cause"] == "missed_update"


def test_a_drop_no_order_explains_yet_is_a_stale_compare():
    row = one(
        measure(
            expected(("pos", "A", "L-A", 10)),
            read_back(("pos", "L-A", "A", 7)),
            facts(acknowledged=[("pos", "L-A", 7)], drops=[("pos", "A", 3)]),
        )
    )
    assert (row["cause"], row["difference"]) == ("stale_compare", -3)


def test_a_drop_does_not_explain_a_channel_showing_more_than_expected():
    row = one(
        measure(
            expected(("pos", "A", "L-A", 10)),
            read_back(("pos", "L-A", "A", 14)),
            facts(acknowledged=[("pos", "L-A", 10)], drops=[("pos", "A", 3)]),
        )
    )
    assert row["cause"] == "channel_edit"


def test_an_open_dead_letter_holding_the_listing_comes_first():
    row = one(
        measure(
            expected(("pos", "A", "L-A", 14)),
            read_back(("pos", "L-A", "A", 3)),
            facts(
                acknowledged=[("pos", "L-A", 10)],
                dead_letters=[("pos", "L-A", 42)],
                drops=[("pos", "A", 3)],
            ),
        )
    )
    assert row["cause"] == "dead_letter" and "dlq show 42" in row["detail"]


def test_a_sku_without_a_listing_that_should_show_stock_is_unmapped():
    frame = measure(
        expected(("shop", "A", None, 5), ("shop", "B", None, 0)),
        read_back(("shop", "L-X", "X", 0)),
    )
    row = one(frame)
    assert (row["sku"], row["listing_id"], row["cause"]) == ("A", None, "unmapped_listing")
    assert (row["expected"], row["actual"], row["difference"]) == (5, None, -5)


def test_a_listing_no_sku_matches_that_shows_stock_is_unmapped():
    exp = expected(("shop", "A", "L-A", 1))
    rb = read_back(
        ("shop", "L-A", "A", 1), ("shop", "L-X", "NOT-IN-ODOO", 9), ("shop", "L-0", None, 0)
    )
    row = one(measure(exp, rb))
    assert (row["listing_id"], row["sku"], row["cause"]) == (
        "L-X",
        "NOT-IN-ODOO",
        "unmapped_listing",
    )
    assert (row["expected"], row["actual"], row["difference"]) == (None, 9, 9)
    assert measure(exp, rb, only_skus=["A"]).is_empty()  # a run over a SKU subset
    assert one(measure(exp, rb, only_skus=["A", "NOT-IN-ODOO"]))["listing_id"] == "L-X"


def test_a_read_back_older_than_our_acknowledgement_gives_way_to_it():
    later = READ_AT + timedelta(minutes=5)
    exp = expected(("shop", "A", "L-A", 12), ("shop", "B", "L-B", 15))
    rb = read_back(("shop", "L-A", "A", 10), ("shop", "L-B", "B", 10))
    frame = measure(
        exp, rb, facts(acknowledged=[("shop", "L-A", 12, later), ("shop", "L-B", 12, later)])
    )
    row = one(frame)
    assert (row["listing_id"], row["actual"], row["cause"]) == ("L-B", 12, "missed_update")


def test_a_listing_whose_quantity_the_channel_does_not_track_is_not_compared():
    exp = expected(("amz", "A", "A", 5))
    rb = read_back(("amz", "A", "A", None))
    assert measure(exp, rb).is_empty()
    assert summarize(measure(exp, rb), rb, ["amz"])["listings_compared"].to_list() == [0]


def test_an_unreadable_channels_marker_row_is_no_listing():
    rb = pl.concat(
        [
            read_back(("shop", "L-A", "A", 10)),
            pl.DataFrame(
                [("shop", None, None, None, READ_AT)], schema=READ_BACK_SCHEMA, orient="row"
            ),
        ]
    )
    assert measure(expected(("shop", "A", "L-A", 10)), rb).is_empty()


def test_each_cause_on_one_channel_and_the_summary_counts_them():
    exp = expected(
        ("shop", "MISSED", "L1", 10),
        ("shop", "EDIT", "L2", 10),
        ("shop", "SOLD", "L3", 10),
        ("shop", "STALE", "L4", 10),
        ("shop", "HELD", "L5", 10),
        ("shop", "NOLISTING", None, 4),
        ("shop", "FINE", "L7", 3),
    )
    rb = read_back(
        ("shop", "L1", "MISSED", 6),
        ("shop", "L2", "EDIT", 30),
        ("shop", "L3", "SOLD", 9),
        ("shop", "L4", "STALE", 8),
        ("shop", "L5", "HELD", 6),
        ("shop", "L6", "ORPHAN", 2),
        ("shop", "L7", "FINE", 3),
    )
    ledger = facts(
        acknowledged=[("shop", x, q) for x, q in [("L1", 6), ("L2", 10), ("L3", 10), ("L4", 8)]],
        sales=[("shop", "SOLD", 1.0, T0 + timedelta(minutes=1))],
        dead_letters=[("shop", "L5", 7)],
        drops=[("shop", "STALE", 2)],
    )
    frame = measure(exp, rb, ledger)
    causes = {(r["sku"], r["listing_id"]): r["cause"] for r in frame.to_dicts()}
    assert causes == {
        ("MISSED", "L1"): "missed_update",
        ("EDIT", "L2"): "channel_edit",
        ("SOLD", "L3"): "pending_order",
        ("STALE", "L4"): "stale_compare",
        ("HELD", "L5"): "dead_letter",
        ("NOLISTING", None): "unmapped_listing",
        ("ORPHAN", "L6"): "unmapped_listing",
    }
    summary = summarize(frame, rb, ["shop", "woo"]).to_dicts()
    assert summary[0] == {
        "channel": "shop",
        "listings_compared": 7,
        "drift_skus": 7,
        "drift_units": 4 + 20 + 1 + 2 + 4 + 4 + 2,
        **{f"drift_{c}": 2 if c == "unmapped_listing" else 1 for c in CAUSES},
    }
    assert summary[1]["channel"] == "woo" and summary[1]["drift_skus"] == 0


def test_expected_per_listing_joins_the_allocation_to_the_mapping():
    allocation = pl.DataFrame(
        {"channel": ["shop", "shop"], "sku": ["A", "B"], "publishable": [4, 0]}
    )
    mapping = pl.DataFrame({"channel": ["shop"], "sku": ["A"], "listing_id": ["L-A"]})
    frame = expected_per_listing(allocation, mapping, {"shop": T0})
    assert frame.sort("sku").rows() == [("shop", "A", "L-A", 4, T0), ("shop", "B", None, 0, T0)]


def test_only_sales_after_the_oldest_moment_that_can_matter_are_needed():
    exp = expected(("shop", "A", "L-A", 10), ("shop", "B", "L-B", 5))
    rb = read_back(("shop", "L-A", "A", 10), ("shop", "L-B", "B", 4))
    old = T0 - timedelta(days=3)
    acks = facts(acknowledged=[("shop", "L-A", 10, old), ("shop", "L-B", 5)]).acknowledged
    assert sales_horizon(exp, rb, acks) == ACKED_AT  # L-A is in sync: its old ack is no matter


@pytest.mark.parametrize(
    ("skus", "listings", "level"),
    [
        (0, 100, Level.OK),
        (1, 100, Level.WARN),
        (2, 100, Level.WARN),
        (3, 100, Level.ERROR),  # 3% of the listings
        (6, 1000, Level.ERROR),  # above error_skus
        (1, 0, Level.ERROR),  # drift with nothing read back
    ],
)
def test_the_verdict_warns_above_warn_skus_and_fails_above_error_skus_or_percent(
    skus, listings, level
):
    thresholds = DriftThresholds(warn_skus=0, error_skus=5, error_percent=2.0)
    judged = verdict(skus, listings, thresholds)
    assert judged.level is level, judged.reason


def test_the_schema_refuses_an_unknown_cause_and_a_wrong_difference():
    frame = measure(
        expected(("shop", "A", "L-A", 10)),
        read_back(("shop", "L-A", "A", 7)),
        facts(acknowledged=[("shop", "L-A", 7)]),
    )
    assert not validate(DriftSchema, frame.with_columns(cause=pl.lit("gremlins"))).passed
    assert not validate(DriftSchema, frame.with_columns(difference=pl.lit(3, pl.Int64))).passed
