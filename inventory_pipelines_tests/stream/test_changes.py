"""Reading what changed in Odoo (`odoo/changes.py`) against the sandbox: bounded, never skipping."""

from __future__ import annotations

from collections import Counter

import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.changes import ChangeCursor, read_changes
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.stream.support import T0

OVERLAP = 120


def client_of(odoo: OdooSandbox) -> OdooClient:
    return OdooClient(OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key))


@pytest.mark.parametrize(("version", "calls"), [(16, 4), (17, 1), (19, 1)])
def test_a_quiet_odoo_costs_one_call_from_17_and_one_per_leg_on_16(version, calls) -> None:
    with OdooSandbox(version=version, skus=20, seed=2, port=0) as odoo, client_of(odoo) as client:
        odoo.state.set_clock(T0)
        start = read_changes(client, None, overlap_s=OVERLAP)
        assert start.baseline and start.calls == 4
        odoo.reset_request_count()
        quiet = read_changes(client, start.cursor, overlap_s=OVERLAP)
        assert (quiet.calls, odoo.request_count, quiet.skus) == (calls, calls, {})
        odoo.state.move_stock("SKU-000003", "MAIN/Stock", 2)
        odoo.reset_request_count()
        changed = read_changes(client, quiet.cursor, overlap_s=OVERLAP)
        assert changed.skus == {"SKU-000003": {"quants", "moves"}}
        # the probe (17+), one read per leg, one lookup of the products' SKUs
        assert changed.calls == odoo.request_count == (calls if version >= 17 else 0) + 4 + 1


def test_a_read_cut_at_its_cap_goes_on_from_there_and_skips_nothing() -> None:
    skus = [f"SKU-{i:06d}" for i in range(1, 8)]
    with OdooSandbox(version=17, skus=20, seed=2, port=0) as odoo, client_of(odoo) as client:
        odoo.state.set_clock(T0)
        cursor = read_changes(client, None, overlap_s=OVERLAP).cursor
        for sku in skus:  # each: two quants (stock and inventory loss) and one done move
            odoo.state.move_stock(sku, "MAIN/Stock", 1)
        read_ids: Counter[tuple[str, int]] = Counter()
        routed: Counter[str] = Counter()
        evaluations = 0
        while True:
            changes = read_changes(client, cursor, overlap_s=OVERLAP, max_records=3)
            evaluations += 1
            assert changes.calls <= 1 + 4 + 1  # probe, four legs of at most 4 rows, one lookup
            if changes.cursor == cursor:
                break
            cursor = ChangeCursor.from_json(changes.cursor.to_json())
            for leg, records in changes.records.items():
                read_ids.update((leg, r["id"]) for r in records)
                assert len(records) <= 3
            routed.update(list(changes.skus))
        assert evaluations > 2  # the cap cut the reading
        assert set(routed) == set(skus)
        assert max(read_ids.values()) == 1  # no record read twice
        assert sum(1 for leg, _ in read_ids if leg == "quants") == 2 * len(skus)
        assert sum(1 for leg, _ in read_ids if leg == "moves") == len(skus)
