"""The CLI refuses what it cannot do with one line naming the input, before doing anything."""

from __future__ import annotations

from click.testing import CliRunner

from inventory_pipelines.cli import main


def test_dlq_list_and_replay_refuse_an_unknown_channel_instead_of_saying_all_is_clear(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    for args in (["dlq", "list", "--channel", "shopfy"], ["dlq", "replay", "--channel", "shopfy"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "unknown channel 'shopfy'" in result.output
        assert "shopify" in result.output  # the names it could have meant
        assert "no open dead letters" not in result.output
    known = CliRunner().invoke(main, ["dlq", "list", "--channel", "shopify"])
    assert known.exit_code == 0 and "no open dead letters" in known.output


def test_sync_refuses_an_unknown_channel_before_reading_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    monkeypatch.setenv("ODOO_URL", "http://127.0.0.1:9")  # nothing there: a snapshot would fail
    result = CliRunner().invoke(main, ["sync", "--channel", "nope"])
    assert result.exit_code == 2
    assert "unknown channel(s) nope" in result.output
    assert "Traceback" not in result.output
