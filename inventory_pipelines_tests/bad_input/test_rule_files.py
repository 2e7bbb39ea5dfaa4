"""Bad rule files the rest of the suite does not already show (see kinds.py)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.rules import RulesError, default_rules_dir, load_policy

pytestmark = pytest.mark.bad_input

NOW = datetime(2026, 11, 27, tzinfo=UTC)

SUPPRESSIONS = """\
suppressions:
  - {channel: amazon, sku: 'A*', reason: ok,
     from: 2026-11-01T00:00:00Z, until: 2027-01-01T00:00:00Z}
  - {channel: shopify, sku: 'B*', reason: typo,
     from: 2026-12-20T00:00:00Z, until: 2026-12-01T00:00:00Z}
"""


def test_a_suppression_ending_before_it_begins_is_refused_naming_its_entry(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    (rules / "suppressions.yml").write_text(SUPPRESSIONS)
    with pytest.raises(RulesError) as caught:
        load_policy(rules, now=NOW)
    [issue] = caught.value.issues
    assert (issue.file, issue.key_path) == ("suppressions.yml", "suppressions.1")
    assert "`until` must be after `from`" in issue.message
    checked = CliRunner().invoke(main, ["rules", "check", str(rules)])
    assert checked.exit_code == 1
    assert "suppressions.yml: suppressions.1: `until` must be after `from`" in checked.stderr
    assert "Traceback" not in checked.output
