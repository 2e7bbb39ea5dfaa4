"""The Odoo change sensor, evaluated with `build_sensor_context` on a real instance against the
Odoo sandbox: its cursor, its overlap window, its routing and what it costs Odoo."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.resources import OdooResource
from inventory_pipelines.defs.shared import (
    CANONICAL,
    FAST_PATH_PRIORITY,
    LOCATIONS,
    POLICY,
    PRODUCTS,
    SKU_VELOCITY,
    STOCK_QUANTS,
)
from inventory_pipelines.defs.stream.sensors import (
    fast_run_requests,
    minimum_interval_s,
    odoo_change_sensor,
)
from inventory_pipelines.ledger import create_engine, dirty, inbox
from inventory_pipelines.odoo import OdooUnavailableError
from inventory_pipelines.odoo.changes import ChangeCursor
from inventory_pipelines_tests.stream.support import write_refresh_inputs

STOCK = "MAIN/Stock"


def dirty_rows(stream) -> dict[str, dirty.DirtySku]:
    engine = create_engine(stream.ledger_url)
    try:
        with engine.connect() as conn:
            return {r.sku: r for r in dirty.rows(conn)}
    finally:
        engine.dispose()


def run_requests(result) -> list[dg.RunRequest]:
    return list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []


def test_the_cursor_round_trips_and_a_quiet_odoo_costs_one_call_and_no_run(stream) -> None:
    first = stream.evaluate()
    assert isinstance(first, dg.SensorResult) and not run_requests(first)
    cursor = ChangeCursor.from_json(first.cursor)
    # the demo data predates the sensor: it starts at Odoo's newest stamp, routes nothing
    assert cursor.high_water == cursor.floor < "2026-06-01 10:00:00"
    assert ChangeCursor.from_json(cursor.to_json()) == cursor

    stream.at(30)
    quiet, calls = stream.calls()
    assert isinstance(quiet, dg.SkipReason)
    assert calls == 1  # one search on product.product, limit 1
    assert dirty_rows(stream) == {}

    stream.odoo.state.move_stock("SKU-000005", STOCK, 3)
    changed = stream.evaluate()
    after = json.loads(changed.cursor)
    assert after["high_water"] == "2026-06-01 10:00:30"
    assert after["seen"]["quants"]["2026-06-01 10:00:30"]  # the ids read at that second
    assert ChangeCursor.from_json(changed.cursor).to_json() == changed.cursor
    assert set(dirty_rows(stream)) == {"SKU-000005"}
    # the sensor resumes from a stored cursor as from its own
    again, calls = stream.calls(changed.cursor)
    assert isinstance(again, dg.SkipReason) and calls == 1


def test_a_change_read_again_inside_the_overlap_window_is_routed_once(stream) -> None:
    stream.evaluate()
    stream.at(10)
    stream.odoo.state.move_stock("SKU-000011", STOCK, 1)
    stream.evaluate()
    stream.at(20)
    stream.odoo.state.move_stock("SKU-000012", STOCK, 1)
    second = stream.evaluate()
    window_start = ChangeCursor.from_json(second.cursor).window_start(
        POLICY.automation.change_sensor.overlap_s
    )
    assert window_start <= "2026-06-01 10:00:10"  # the first change is inside the window
    # a long transaction that began before the last read commits an older stamp
    with stream.odoo.state.transaction(at="2026-06-01 10:00:15"):
        stream.odoo.state.move_stock("SKU-000013", STOCK, 1)
    stream.at(25)
    stream.evaluate()
    assert isinstance(stream.evaluate(), dg.SkipReason)
    marks = {sku: row.marks for sku, row in dirty_rows(stream).items()}
    assert marks == {"SKU-000011": 1, "SKU-000012": 1, "SKU-000013": 1}


def write_tables(stream, skus: dict[str, str]) -> dict[str, float]:
    """The data plane a full refresh would have left: tiers, canonical units, the products,
    locations and quants of `skus` (role -> sku)."""
    state = stream.odoo.state
    store = TableStore(stream.tables)
    for sku in skus.values():
        state.move_stock(sku, STOCK, 50)  # every SKU has a quant in MAIN/Stock
    quant = state.find_quant(skus["drop"], STOCK)
    held = state.get("stock.quant", quant, "quantity") - state.get(
        "stock.quant", quant, "reserved_quantity"
    )
    store.write(
        SKU_VELOCITY,
        pl.DataFrame(
            {
                "sku": list(skus.values()),
                "velocity_tier": ["A" if role == "fast" else "C" for role in skus],
            }
        ),
    )
    sellable = {"fast": 500.0, "low": 3.0, "ordered": 500.0, "drop": held, "plain": 500.0}
    store.write(
        CANONICAL,
        pl.DataFrame(
            {
                "sku": [skus[r] for r in sellable],
                "warehouse": ["MAIN"] * len(sellable),
                "available": list(sellable.values()),
            }
        ),
    )
    store.write(
        PRODUCTS,
        pl.DataFrame(
            {
                "product_id": [state.product_id(s) for s in skus.values()],
                "sku": list(skus.values()),
                "factor": [1.0] * len(skus),
            }
        ),
    )
    store.write(
        LOCATIONS, pl.DataFrame({"location_id": [state.location_id(STOCK)], "role": ["stock"]})
    )
    store.write(
        STOCK_QUANTS,
        pl.DataFrame(
            {
                "quant_id": [quant],
                "quantity": [state.get("stock.quant", quant, "quantity")],
                "reserved_quantity": [state.get("stock.quant", quant, "reserved_quantity")],
            }
        ),
    )
    write_refresh_inputs(stream.tables)
    return {"drop": held}


@pytest.mark.slow  # loads the whole code location to validate the run config (about 1 s)
def test_critical_skus_go_into_one_fast_run_over_every_channel_and_the_rest_is_marked_dirty(
    stream,
) -> None:
    skus = {
        "fast": "SKU-000001",
        "low": "SKU-000002",
        "ordered": "SKU-000003",
        "drop": "SKU-000004",
        "plain": "SKU-000006",
    }
    held = write_tables(stream, skus)["drop"]
    engine = create_engine(stream.ledger_url)
    with engine.connect() as conn:
        inbox.receive(
            conn,
            [
                inbox.InboxEvent(
                    "shopify", "77", "created", "created", "webhook", {"lines": []},
                    pending={skus["ordered"]: 1},
                )
            ],
        )  # fmt: skip
    engine.dispose()
    stream.evaluate()
    stream.at(10)
    for role in ("fast", "low", "ordered", "plain"):
        stream.odoo.state.move_stock(skus[role], STOCK, 1)
    stream.odoo.state.move_stock(skus["drop"], STOCK, -(held - 2))  # 2 left: a fall to low stock

    result = stream.evaluate()
    [request] = run_requests(result)
    assert request.job_name == "refresh_changed_skus"
    config = request.run_config["resources"]["sku_scope"]["config"]
    assert config["skus"] == sorted(skus[r] for r in ("fast", "low", "ordered", "drop"))
    assert request.tags["dagster/priority"] == str(FAST_PATH_PRIORITY)
    assert request.tags["dagster/asset_partition_range_start"] == "shopify"
    assert request.tags["dagster/asset_partition_range_end"] == "b2b"
    window = json.loads(result.cursor)["high_water"].replace(" ", "T")
    assert window in request.run_key  # the run key names the cursor window
    from inventory_pipelines.definitions import defs

    dg.validate_run_config(defs().resolve_job_def("refresh_changed_skus"), request.run_config)
    rows = dirty_rows(stream)
    assert {sku: row.reason for sku, row in rows.items()} == {skus["plain"]: "odoo: moves+quants"}


def test_a_late_commit_for_a_sku_just_refreshed_gets_a_run_of_its_own(stream) -> None:
    engine = create_engine(stream.ledger_url)
    with engine.connect() as conn:
        event = inbox.InboxEvent(
            "woocommerce",
            "9",
            "created",
            "created",
            "poll",
            {"lines": []},
            pending={"SKU-000020": 1},
        )
        inbox.receive(conn, [event])  # just ordered: critical
    engine.dispose()
    write_refresh_inputs(stream.tables)
    stream.evaluate()
    stream.at(10)
    stream.odoo.state.move_stock("SKU-000020", STOCK, -1)
    [first] = run_requests(stream.evaluate())
    with stream.odoo.state.transaction(at="2026-06-01 10:00:05"):  # began before that read
        stream.odoo.state.move_stock("SKU-000020", STOCK, -1)
    [late] = run_requests(stream.evaluate())
    assert json.loads(stream.cursor)["high_water"] == "2026-06-01 10:00:10"  # the same window
    config = late.run_config["resources"]["sku_scope"]["config"]
    assert config == first.run_config["resources"]["sku_scope"]["config"]
    assert late.run_key != first.run_key  # not taken for a retry of the first


def test_with_no_table_yet_the_sensor_routes_by_what_it_has_and_requests_no_doomed_run(
    stream,
) -> None:
    shutil.rmtree(stream.tables)  # a fresh machine: no table of a full refresh at all
    engine = create_engine(stream.ledger_url)
    with engine.connect() as conn:
        event = inbox.InboxEvent(
            "shopify", "5", "created", "created", "poll", {"lines": []}, pending={"SKU-000008": 1}
        )
        inbox.receive(conn, [event])
    engine.dispose()
    stream.evaluate()
    stream.at(5)
    stream.odoo.state.move_stock("SKU-000008", STOCK, -1)
    stream.odoo.state.move_stock("SKU-000009", STOCK, 4)
    result = stream.evaluate()
    # a fast run could only fail before the first full refresh: the full run is asked for
    # instead, once an hour (its run key), so a fresh `make run` closes the loop by itself
    [bootstrap] = run_requests(result)
    assert bootstrap.job_name == "reconcile_all"
    assert bootstrap.run_key == "bootstrap:" + bootstrap.run_key.split(":", 1)[1]
    assert bootstrap.tags["inventory/bootstrap"] == "true"
    assert bootstrap.tags["dagster/asset_partition_range_start"] == POLICY.channels.names()[0]
    assert bootstrap.tags["dagster/asset_partition_range_end"] == POLICY.channels.names()[-1]
    reasons = {sku: row.reason for sku, row in dirty_rows(stream).items()}
    assert reasons == {
        "SKU-000008": "ordered; no full refresh yet",
        "SKU-000009": "odoo: moves+quants",
    }
    quiet = stream.evaluate()  # nothing changed: still the bootstrap run, the same key
    assert [r.run_key for r in run_requests(quiet)] == [bootstrap.run_key]
    write_refresh_inputs(stream.tables)  # the full run made them: no more bootstrap
    assert isinstance(stream.evaluate(), dg.SkipReason)


def test_a_quant_changed_by_raw_sql_is_not_seen_the_nightly_reconciliation_is_its_net(
    stream,
) -> None:
    stream.evaluate()
    stream.at(5)
    quant = stream.odoo.state.find_quant("SKU-000010", STOCK) or stream.odoo.state.find_quant(
        "SKU-000010", "EAST/Stock"
    )
    assert quant is not None
    stream.odoo.state.set_quant_quantity_silently(quant, 0.0)  # write_date untouched
    result, calls = stream.calls()
    assert isinstance(result, dg.SkipReason) and calls == 1
    assert dirty_rows(stream) == {}


def test_an_archived_product_a_new_barcode_unit_or_reference_are_seen(stream) -> None:
    state = stream.odoo.state
    ids = {
        sku: state.product_id(sku)
        for sku in ("SKU-000014", "SKU-000015", "SKU-000016", "SKU-000017")
    }
    TableStore(stream.tables).write(
        PRODUCTS,
        pl.DataFrame({"product_id": list(ids.values()), "sku": list(ids), "factor": [1.0] * 4}),
    )
    stream.evaluate()
    stream.at(5)
    template = state.get("product.product", ids["SKU-000016"], "product_tmpl_id")
    [dozens] = state.call("uom.uom", "search", [[["name", "=", "Dozens"]]])
    state.call("product.product", "write", [[ids["SKU-000014"]], {"active": False}])
    state.call("product.product", "write", [[ids["SKU-000015"]], {"barcode": "9990001112223"}])
    state.call("product.template", "write", [[template], {"uom_id": dozens}])
    state.call("product.product", "write", [[ids["SKU-000017"]], {"default_code": "SKU-NEW-17"}])
    stream.evaluate()
    reasons = {sku: row.reason for sku, row in dirty_rows(stream).items()}
    assert reasons == {
        "SKU-000014": "odoo: products",  # archived
        "SKU-000015": "odoo: products",  # barcode
        "SKU-000016": "odoo: templates",  # unit of measure, on the template
        "SKU-NEW-17": "odoo: products",
        "SKU-000017": "odoo: products",  # its former reference: its rows are refreshed away
    }


def test_more_critical_skus_than_a_run_takes_go_into_several_runs_with_their_own_keys() -> None:
    size = POLICY.automation.change_sensor.fast_path.max_skus_per_run
    critical = {f"SKU-{i:06d}": "low_stock (0)" for i in range(2 * size + 1)}
    requests = fast_run_requests(critical, ("2026-06-01 10:00:00", "2026-06-01 10:02:00"), "{}")
    sizes = [len(r.run_config["resources"]["sku_scope"]["config"]["skus"]) for r in requests]
    assert sizes == [size, size, 1]
    assert len({r.run_key for r in requests}) == 3
    covered = [
        s for r in requests for s in r.run_config["resources"]["sku_scope"]["config"]["skus"]
    ]
    assert sorted(covered) == sorted(critical)


def test_the_sensor_runs_by_default_at_the_cadence_of_automation_yml() -> None:
    assert POLICY.automation.change_sensor.enabled  # the shipped rules switch it on
    assert odoo_change_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    interval = POLICY.automation.change_sensor.interval_s
    # a little under the interval, so that Dagster's 5 s daemon loop never skips a tick
    assert odoo_change_sensor.minimum_interval_seconds == minimum_interval_s(interval)
    assert interval - 5 < odoo_change_sensor.minimum_interval_seconds < interval


def test_an_odoo_that_is_down_fails_the_evaluation_and_is_not_flooded(stream) -> None:
    resources = {
        **stream.resources(),
        "odoo": OdooResource(
            url=stream.odoo.url,
            db=stream.odoo.db,
            login=stream.odoo.login,
            api_key=stream.odoo.api_key,
            max_attempts=1,
        ),
    }
    started = odoo_change_sensor(
        dg.build_sensor_context(instance=stream.instance, resources=resources)
    )
    stream.odoo.faults.set_outage(True)
    stream.odoo.reset_request_count()
    for _ in range(12):  # a minute of evaluations at the shipped cadence
        with pytest.raises(OdooUnavailableError):
            odoo_change_sensor(
                dg.build_sensor_context(
                    instance=stream.instance, cursor=started.cursor, resources=resources
                )
            )
    # the kept client's circuit breaker opened after five failures: no call since
    assert stream.odoo.request_count == 5


def test_a_rules_change_since_the_last_allocation_refreshes_every_sku() -> None:
    from datetime import UTC, datetime, timedelta

    from inventory_pipelines.definitions import defs
    from inventory_pipelines.defs.stream.sensors import ALLOCATION_VERSION, rules_change_requests

    key = dg.AssetKey(["inventory", "channel_allocation"])

    def allocated(version: str) -> None:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(key, partition="pos", tags={"dagster/code_version": version})
        )

    with dg.instance_for_test() as instance:
        assert rules_change_requests(instance) == []  # never allocated: the bootstrap's
        allocated(ALLOCATION_VERSION)
        assert rules_change_requests(instance) == []  # allocated with these rules
        # a warehouse set offline in warehouses.yml: the location reloads with a new version
        allocated("rules-0ld")
        now = datetime.now(UTC)
        [request] = rules_change_requests(instance, now)
        assert [r.run_key for r in rules_change_requests(instance, now)] == [request.run_key]
        # a re-route that failed is asked for again the next hour
        [retry] = rules_change_requests(instance, now + timedelta(hours=1))
        assert retry.run_key != request.run_key
        # the re-route ran; then the rules went back and forth: each change re-routes again
        allocated(ALLOCATION_VERSION)
        assert rules_change_requests(instance, now) == []
        allocated("rules-0ld")
        [again] = rules_change_requests(instance, now)
        assert again.run_key not in (request.run_key, retry.run_key)
        # same rules, but a time-boxed suppression begins after the last allocation
        allocated(ALLOCATION_VERSION)
        window = POLICY.suppressions.suppressions[0]
        before, during = window.start - timedelta(hours=1), window.start + timedelta(hours=1)
        later = rules_change_requests(instance, during)
        if datetime.now(UTC) < window.start:  # allocated before the window: it begins now
            [begins] = later
            assert begins.tags["inventory/rules_changed"].endswith(ALLOCATION_VERSION)
        else:  # allocated inside the window: it still holds, nothing to re-route
            assert later == []
            assert rules_change_requests(instance, window.until + timedelta(hours=1))  # ends
        assert before < during
    assert request.job_name == "refresh_changed_skus"
    assert request.run_key.startswith(f"rules:{ALLOCATION_VERSION}:")
    assert request.tags["dagster/priority"] == str(FAST_PATH_PRIORITY)
    assert request.tags["inventory/rules_changed"] == f"rules-0ld -> {ALLOCATION_VERSION}"
    assert request.tags["dagster/asset_partition_range_start"] == POLICY.channels.names()[0]
    job = defs().resolve_job_def("refresh_changed_skus")
    dg.validate_run_config(job, request.run_config)  # every SKU: no subset
    assert request.run_config["resources"]["sku_scope"]["config"]["skus"] is None
