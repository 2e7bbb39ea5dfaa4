"""Bad CLI arguments the rest of the suite does not already show (see kinds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from inventory_pipelines.cli import main
from inventory_pipelines.ledger import create_engine, dlq, migrate, outbox

pytestmark = pytest.mark.bad_input


def one_line(result: Result) -> str:
    """The only line on stderr, with no traceback anywhere."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_explain_of_a_channel_channels_yml_lacks_names_the_ones_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    unknown = CliRunner().invoke(main, ["explain", "--channel", "ebay", "--sku", "SKU-000001"])
    assert unknown.exit_code == 1
    assert one_line(unknown) == (
        "Error: unknown channel 'ebay': channels.yml has shopify, woocommerce, amazon, pos, b2b "
        "(none is materialized)"
    )
    known = CliRunner().invoke(main, ["explain", "--channel", "pos", "--sku", "SKU-000001"])
    assert known.exit_code == 1
    assert "materialize inventory/channel_allocation for partition 'pos' first" in one_line(known)


def _one_publish_letter(url: str) -> int:
    """The id of a dead letter of one publish update that failed out of its attempts."""
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            outbox.enqueue_round(
                conn, "pos", "round-1", [{"listing_id": "L1", "sku": "S1", "quantity": 0}]
            )
            (batch,) = outbox.pending_batches(conn, "pos", max_batch=10)
            outbox.mark_sent(conn, batch.batch_key)
            assert (
                outbox.retry_or_dead_letter(conn, batch.batch_key, "HTTP 503", max_attempts=1)
                == "dead"
            )
            (letter,) = dlq.list_open(conn, "pos")
            return letter.id
    finally:
        engine.dispose()


def test_dlq_of_an_id_that_is_not_there_says_so_in_one_line_and_acts_on_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    letter = _one_publish_letter(url)
    monkeypatch.setenv("INVENTORY_LEDGER_URL", url)
    runner = CliRunner()

    shown = runner.invoke(main, ["dlq", "show", "424242"])
    assert shown.exit_code == 1 and one_line(shown) == "Error: no dead letter 424242"

    replayed = runner.invoke(main, ["dlq", "replay", str(letter), "424242"])
    assert replayed.exit_code == 1
    # nothing to settle: no advice to discard a letter that is not there
    assert one_line(replayed) == "#424242: no dead letter 424242"
    assert f"#{letter}: 1 update(s) back in the outbox" in replayed.stdout

    discarded = runner.invoke(main, ["dlq", "discard", "424242", "--reason", "typo"])
    assert discarded.exit_code == 1 and one_line(discarded) == "#424242: no dead letter 424242"


def test_sql_on_a_catalog_in_a_folder_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    catalog = tmp_path / "typo" / "warehouse.duckdb"
    result = CliRunner().invoke(main, ["sql", "SELECT 1", "--catalog", str(catalog)])
    assert result.exit_code == 1
    assert one_line(result).startswith(f"Error: no catalog at {catalog}: materialize the assets")
    assert not catalog.parent.exists()
