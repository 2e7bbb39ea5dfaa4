"""`warehouse.duckdb` as analysts use it: through the DuckDB CLI 1.x from PyPI (`duckdb-cli`),
with the README's example queries and the `analytics` views."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore, query, rebuild_catalog
from inventory_pipelines.dataplane.dead_letters import DEAD_LETTERS, export_dead_letters
from inventory_pipelines.inventory.canonical import CANONICAL_SCHEMA
from inventory_pipelines.ledger import create_engine, dlq, migrate
from inventory_pipelines.reconciliation import DRIFT_SCHEMA, history
from inventory_pipelines.settings import REPO_ROOT

DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
README_SECTION = "## For analysts: warehouse.duckdb"
NOW = datetime.now(UTC).replace(microsecond=0)

pytestmark = pytest.mark.skipif(not DUCKDB_CLI.exists(), reason="duckdb-cli (dev) not installed")


def readme_examples() -> list[str]:
    """The ```sql blocks of the README's section for analysts."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sql\n(.*?)```", section, re.DOTALL)]


def cli(project: Path, sql: str, *, cwd: Path | None = None) -> list[dict]:
    """`duckdb -readonly .data/warehouse.duckdb -json -c SQL`, run in `project` (or `cwd`)."""
    catalog = ".data/warehouse.duckdb" if cwd is None else str(project / ".data/warehouse.duckdb")
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", catalog, "-json", "-c", sql],
        cwd=cwd or project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    return json.loads(done.stdout or "[]")


def drift(channel: str, at: datetime, *rows: tuple[str, int, int, str]) -> pl.DataFrame:
    """Drift rows of `channel` observed at `at`: (sku, expected, actual, cause)."""
    return pl.DataFrame(
        [
            {
                "channel": channel,
                "sku": sku,
                "listing_id": f"{channel}-{sku}",
                "expected": expected,
                "actual": actual,
                "difference": actual - expected,
                "cause": cause,
                "acknowledged": None,
                "detail": "",
                "observed_at": at,
            }
            for sku, expected, actual, cause in rows
        ],
        schema=DRIFT_SCHEMA,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project folder with `.data/tables`, `.data/ledger.sqlite` and `.data/warehouse.duckdb`:
    stock in two warehouses, two nights of drift, dead letters open and settled."""
    root = tmp_path_factory.mktemp("project")
    store = TableStore(root / ".data" / "tables")
    canonical = pl.DataFrame(
        [
            ("SKU-1", "MAIN", 1, 10.0, 2.0, 1.0, 0.0, 8.0),
            ("SKU-2", "MAIN", 2, 0.0, 0.0, 0.0, 4.0, 0.0),
            ("SKU-1", "EAST", 1, 5.0, 0.0, 0.0, 0.0, 5.0),
        ],
        schema=[c for c in CANONICAL_SCHEMA if c not in ("uom", "as_of")],
        orient="row",
    ).with_columns(uom=pl.lit("Units"), as_of=pl.lit(NOW).dt.replace_time_zone("UTC"))
    store.write(("inventory", "canonical_inventory"), canonical.cast(CANONICAL_SCHEMA))
    last_night, night_before = NOW - timedelta(hours=1), NOW - timedelta(days=1, hours=1)
    history.append(
        store,
        drift("shop", night_before, ("SKU-1", 5, 9, "channel_edit")),
        "night-1",
        ["shop", "woo"],
        night_before,
    )
    latest = {
        "shop": drift(
            "shop", last_night, ("SKU-1", 5, 8, "channel_edit"), ("SKU-2", 0, 2, "missed_update")
        ),
        "woo": drift("woo", last_night, ("SKU-1", 6, 1, "pending_order")),
    }
    for channel, frame in latest.items():
        store.write(("reconciliation", "drift"), frame, channel)
    history.append(store, pl.concat(latest.values()), "night-2", ["shop", "woo"], last_night)
    # a second run the same night sees SKU-1 on shop again, further off: counted once that day
    history.append(
        store,
        drift("shop", last_night, ("SKU-1", 5, 11, "channel_edit")),
        "morning",
        ["shop"],
        last_night,
    )
    ledger = f"sqlite:///{root / '.data' / 'ledger.sqlite'}"
    migrate(ledger)
    engine = create_engine(ledger)
    with engine.connect() as conn:
        for channel, kind in (("shop", "publish"), ("shop", "order"), ("woo", "order")):
            dlq.add(
                conn,
                channel=channel,
                kind=kind,
                payload={"buyer": "Jane Doe <jane@example.com>"},
                error=f"{kind} refused\nresponse body: ...",
            )
        dlq.discard(conn, 3, actor="ops", reason="a test order")
        export_dead_letters(store, conn)
    engine.dispose()
    rebuild_catalog(store, root / ".data" / "warehouse.duckdb")
    return root


def test_the_duckdb_cli_1x_opens_the_catalog_read_only(project):
    version = subprocess.run([str(DUCKDB_CLI), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("v1.")
    tables = cli(project, "SELECT table_schema, table_name FROM information_schema.tables")
    assert {(t["table_schema"], t["table_name"]) for t in tables} >= {
        ("inventory", "canonical_inventory"),
        ("reconciliation", "drift"),
        ("reconciliation", "drift_history"),
        ("ledger", "dead_letters"),
        ("analytics", "drift_by_channel_day"),
        ("analytics", "oversold_by_channel"),
        ("analytics", "dead_letters_by_channel"),
        ("analytics", "stock_by_warehouse"),
    }


@pytest.mark.parametrize("example", readme_examples())
def test_each_example_of_the_readme_answers_through_the_duckdb_cli(project, example):
    assert cli(project, example), f"no rows for the README's example:\n{example}"


def test_the_readme_has_an_example_for_each_analytics_view():
    examples = "\n".join(readme_examples())
    for view in (
        "drift_by_channel_day",
        "oversold_by_channel",
        "dead_letters_by_channel",
        "stock_by_warehouse",
    ):
        assert f"analytics.{view}" in examples


def test_a_moved_project_folder_is_pointed_at_again_by_the_next_rebuild(project, tmp_path):
    moved = tmp_path / "elsewhere" / "project"
    shutil.copytree(project, moved)
    shutil.rmtree(project / ".data" / "tables")
    try:
        rebuild_catalog(
            TableStore(moved / ".data" / "tables"), moved / ".data" / "warehouse.duckdb"
        )
        rows = cli(moved, "SELECT count(*) AS n FROM inventory.canonical_inventory")
        assert rows == [{"n": 3}]
        found = query(
            moved / ".data" / "warehouse.duckdb", "SELECT count(*) AS n FROM ledger.dead_letters"
        )
        assert found["n"].item() == 3
    finally:
        shutil.copytree(moved / ".data" / "tables", project / ".data" / "tables")


def test_the_catalog_opens_from_any_working_directory(project, tmp_path):
    sql = "SELECT sum(available) AS available FROM inventory.canonical_inventory"
    assert cli(project, sql, cwd=tmp_path) == [{"available": 13.0}]


def test_drift_by_channel_day_counts_each_listing_once_a_day_at_its_largest_difference(project):
    rows = cli(
        project,
        "SELECT channel, drifting_listings, drift_units, oversell_units, undersell_units, "
        "main_cause FROM analytics.drift_by_channel_day WHERE day = "
        f"DATE '{(NOW - timedelta(hours=1)).date()}' ORDER BY channel",
    )
    assert rows == [
        {
            "channel": "shop",
            "drifting_listings": 2,
            "drift_units": 6 + 2,
            "oversell_units": 6 + 2,
            "undersell_units": 0,
            "main_cause": rows[0]["main_cause"],
        },
        {
            "channel": "woo",
            "drifting_listings": 1,
            "drift_units": 5,
            "oversell_units": 0,
            "undersell_units": 5,
            "main_cause": "pending_order",
        },
    ]
    assert rows[0]["main_cause"] in {"channel_edit", "missed_update"}


def test_oversold_by_channel_counts_the_listings_showing_more_than_they_should(project):
    rows = cli(project, "SELECT * EXCLUDE (measured_at) FROM analytics.oversold_by_channel")
    assert rows == [
        {
            "channel": "shop",
            "oversold_listings": 2,
            "oversold_units": 3 + 2,
            "main_cause": rows[0]["main_cause"],
            "drifting_listings": 2,
        },
        {
            "channel": "woo",
            "oversold_listings": 0,
            "oversold_units": 0,
            "main_cause": None,
            "drifting_listings": 1,
        },
    ]


def test_dead_letters_by_channel_counts_open_and_settled_letters_from_the_ledger(project):
    rows = cli(
        project,
        "SELECT channel, kind, open, replayed, discarded, total "
        "FROM analytics.dead_letters_by_channel ORDER BY channel, kind",
    )
    assert rows == [
        {"channel": "shop", "kind": "order", "open": 1, "replayed": 0, "discarded": 0, "total": 1},
        {
            "channel": "shop",
            "kind": "publish",
            "open": 1,
            "replayed": 0,
            "discarded": 0,
            "total": 1,
        },
        {"channel": "woo", "kind": "order", "open": 0, "replayed": 0, "discarded": 1, "total": 1},
    ]


def test_the_dead_letter_export_keeps_no_payload_and_one_line_of_error(project):
    letters = TableStore(project / ".data" / "tables").read(DEAD_LETTERS)
    assert "payload" not in letters.columns
    assert set(letters["error"]) == {"publish refused", "order refused"}
    assert "jane" not in letters.write_csv()


def test_stock_by_warehouse_sums_canonical_inventory(project):
    rows = cli(
        project,
        "SELECT warehouse, skus, skus_out_of_stock, on_hand, reserved, available, quality_hold, "
        "in_transit FROM analytics.stock_by_warehouse",
    )
    assert rows == [
        {
            "warehouse": "EAST",
            "skus": 1,
            "skus_out_of_stock": 0,
            "on_hand": 5.0,
            "reserved": 0.0,
            "available": 5.0,
            "quality_hold": 0.0,
            "in_transit": 0.0,
        },
        {
            "warehouse": "MAIN",
            "skus": 2,
            "skus_out_of_stock": 1,
            "on_hand": 10.0,
            "reserved": 2.0,
            "available": 8.0,
            "quality_hold": 1.0,
            "in_transit": 4.0,
        },
    ]
