"""Bad environments the rest of the suite does not already show (see kinds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main

pytestmark = pytest.mark.bad_input

VARIABLE = "INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET_FILE"


@pytest.mark.parametrize(
    ("kind", "why"), [("missing", "No such file or directory"), ("folder", "Is a directory")]
)
def test_webhooks_serve_with_an_unreadable_secret_file_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, why: str
) -> None:
    secret_file = tmp_path / "secrets" / "shopify"
    if kind == "folder":
        secret_file.mkdir(parents=True)
    monkeypatch.setenv(VARIABLE, str(secret_file))
    monkeypatch.setenv("INVENTORY_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    result = CliRunner().invoke(main, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    # the value is hidden as any NAME=value of a secret's variable is: a misplaced secret
    # would show otherwise; the variable is what a person corrects
    assert f"{VARIABLE}=*** cannot be read ({why})" in line
    assert "Traceback" not in result.output
    assert not (tmp_path / "ledger.sqlite").exists()  # refused before anything was opened
