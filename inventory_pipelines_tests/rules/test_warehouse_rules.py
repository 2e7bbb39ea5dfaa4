"""Loading `warehouses.yml`: a broken file fails with the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.rules import RulesError, load_policy


def broken(rules_dir: Path, text: str) -> RulesError:
    (rules_dir / "warehouses.yml").write_text(text)
    with pytest.raises(RulesError) as caught:
        load_policy(rules_dir)
    return caught.value


def test_the_shipped_rules_load():
    policy = load_policy()
    assert policy.warehouses.codes() == ["MAIN", "EAST", "WEST"]


@pytest.mark.bad_input
def test_invalid_yaml_names_the_file_and_line(rules_dir):
    error = broken(rules_dir, "warehouses:\n  - code: MAIN\n   status: [online\n")
    (issue,) = error.issues
    assert issue.file == "warehouses.yml"
    assert issue.key_path.startswith("line ")
    assert "invalid YAML" in issue.message


@pytest.mark.bad_input
def test_an_unknown_key_names_its_path_and_the_fix(rules_dir):
    error = broken(rules_dir, "warehouses:\n  - code: MAIN\n    statuss: online\n")
    (issue,) = error.issues
    assert (issue.file, issue.key_path) == ("warehouses.yml", "warehouses.0.statuss")
    assert "remove the key" in issue.fix


@pytest.mark.bad_input
def test_a_bad_status_lists_the_allowed_values(rules_dir):
    error = broken(rules_dir, "warehouses:\n  - code: MAIN\n    status: closed\n")
    (issue,) = error.issues
    assert issue.key_path == "warehouses.0.status"
    assert "online" in issue.message


@pytest.mark.bad_input
def test_a_transit_rule_for_an_unknown_warehouse_is_refused(rules_dir):
    error = broken(
        rules_dir,
        "warehouses:\n  - code: MAIN\nlocations:\n  transit:\n"
        "    - pattern: 'X/*'\n      warehouse: MARS\n",
    )
    assert "locations.transit.0.warehouse" in str(error)
    assert "MARS" in str(error)


def test_every_problem_is_listed_not_only_the_first(rules_dir):
    error = broken(rules_dir, "warehouses:\n  - code: ''\n    priority: -1\n    colour: red\n")
    assert {i.key_path for i in error.issues} == {
        "warehouses.0.code",
        "warehouses.0.priority",
        "warehouses.0.colour",
    }


def test_rules_check_exits_non_zero_and_prints_each_problem(rules_dir):
    (rules_dir / "warehouses.yml").write_text("warehouses:\n  - code: MAIN\n    x: 1\n")
    result = CliRunner().invoke(main, ["rules", "check", str(rules_dir)])
    assert result.exit_code == 1
    assert "warehouses.yml: warehouses.0.x" in result.output


def test_a_rule_change_changes_the_policy_version(rules_dir):
    before = load_policy(rules_dir).version
    path = rules_dir / "warehouses.yml"
    path.write_text(
        path.read_text().replace(
            "code: WEST\n    status: online", "code: WEST\n    status: offline"
        )
    )
    assert load_policy(rules_dir).version != before
