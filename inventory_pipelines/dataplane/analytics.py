"""The analysts' first questions, as views of the catalog's `analytics` schema.

Each view reads other views (or tables) of the catalog, never a file, so it works wherever they
do; a view is created only when the tables it reads are there. Their SQL is kept to what every
DuckDB since 1.0 parses: the catalog is opened by tools on DuckDB 1.x (see `catalog.py`).
Sums of integers are cast back to BIGINT: DuckDB widens them to HUGEINT, which JSON output and
some drivers render as text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalystView:
    """One view of the `analytics` schema: the tables it reads and its query."""

    name: str
    reads: tuple[str, ...]
    sql: str
    comment: str


VIEWS = (
    AnalystView(
        "drift_by_channel_day",
        ("reconciliation.drift_history",),
        """
WITH per_listing AS (
    SELECT day, channel, listing_id, sku,
           max(abs(difference)) AS units,
           max(greatest(difference, 0)) AS over_units,
           max(greatest(-difference, 0)) AS under_units,
           mode(cause) AS cause
    FROM reconciliation.drift_history
    GROUP BY day, channel, listing_id, sku
)
SELECT day, channel,
       count(*) AS drifting_listings,
       CAST(sum(units) AS BIGINT) AS drift_units,
       CAST(sum(over_units) AS BIGINT) AS oversell_units,
       CAST(sum(under_units) AS BIGINT) AS undersell_units,
       mode(cause) AS main_cause
FROM per_listing
GROUP BY day, channel
ORDER BY day, channel
""",
        "Per UTC day and channel: the listings (or SKUs without listing) that drifted at least "
        "once that day, each counted once with its largest difference; oversell units where "
        "the channel showed more than it should, undersell where less; the most common cause.",
    ),
    AnalystView(
        "oversold_by_channel",
        ("reconciliation.drift",),
        """
SELECT channel,
       count(*) FILTER (WHERE difference > 0) AS oversold_listings,
       CAST(coalesce(sum(difference) FILTER (WHERE difference > 0), 0) AS BIGINT)
           AS oversold_units,
       mode(cause) FILTER (WHERE difference > 0) AS main_cause,
       count(*) AS drifting_listings,
       max(observed_at) AS measured_at
FROM reconciliation.drift
GROUP BY channel
ORDER BY oversold_units DESC, channel
""",
        "Per channel, from its latest drift measurement: listings showing more than they "
        "should (units a buyer can order that the allocation does not give the channel), "
        "their units and most common cause, beside all drifting listings.",
    ),
    AnalystView(
        "dead_letters_by_channel",
        ("ledger.dead_letters",),
        """
SELECT channel, kind,
       count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE status = 'replayed') AS replayed,
       count(*) FILTER (WHERE status = 'discarded') AS discarded,
       count(*) AS total,
       min(created_at) FILTER (WHERE status = 'open') AS oldest_open_at,
       max(created_at) AS last_at,
       max(exported_at) AS as_of
FROM ledger.dead_letters
GROUP BY channel, kind
ORDER BY open DESC, channel, kind
""",
        "Per channel and kind (publish, order): dead letters open, replayed and discarded, the "
        "oldest still open, as of the ledger export (`as_of`).",
    ),
    AnalystView(
        "stock_by_warehouse",
        ("inventory.canonical_inventory",),
        """
SELECT warehouse,
       count(*) AS skus,
       count(*) FILTER (WHERE available <= 0) AS skus_out_of_stock,
       sum(on_hand) AS on_hand,
       sum(reserved) AS reserved,
       sum(available) AS available,
       sum(quality_hold) AS quality_hold,
       sum(in_transit) AS in_transit,
       max(as_of) AS as_of
FROM inventory.canonical_inventory
GROUP BY warehouse
ORDER BY warehouse
""",
        "Per warehouse, in base units: SKUs, how many have nothing available, and the sums of "
        "on hand, reserved, available, quality hold and in transit.",
    ),
)
