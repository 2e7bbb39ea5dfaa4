"""The shipped rules folder, copied for a test to break: the `rules_dir` fixture (a plugin of
the root conftest) and `problems`, what loading a broken file reports."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inventory_pipelines.rules import RulesError, default_rules_dir, load_policy

#: the moment the rules are loaded at (suppressions and overrides are judged against it)
NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A copy of the shipped rules folder, free to change."""
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    return target


def problems(rules_dir: Path, file: str, text: str) -> list:
    """The problems reported in `file` once it holds `text` (others may follow from it)."""
    (rules_dir / file).write_text(text)
    with pytest.raises(RulesError) as caught:
        load_policy(rules_dir, now=NOW)
    return [issue for issue in caught.value.issues if issue.file == file]
