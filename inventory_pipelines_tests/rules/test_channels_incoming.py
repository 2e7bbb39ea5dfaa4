"""`channels.yml` `incoming: {within_days, percent}`: validated, named when wrong, optional."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory_pipelines.rules import RulesError, load_policy
from inventory_pipelines_tests.rules_files import NOW


def with_incoming(rules_dir: Path, rule: str) -> Path:
    """One shared channel `a` on MAIN with `incoming: <rule>`."""
    (rules_dir / "channels.yml").write_text(
        "channels:\n"
        "  - name: a\n"
        "    kind: generic\n"
        "    warehouses: [{code: MAIN}]\n"
        f"    incoming: {rule}\n"
    )
    return rules_dir


def issues(rules_dir: Path, rule: str) -> list:
    with pytest.raises(RulesError) as caught:
        load_policy(with_incoming(rules_dir, rule), now=NOW)
    return [i for i in caught.value.issues if i.file == "channels.yml"]


def test_the_shipped_b2b_channel_sells_half_of_what_arrives_within_two_weeks():
    policy = load_policy(now=NOW)
    b2b = policy.channels.get("b2b").incoming
    assert (b2b.within_days, b2b.percent) == (14, 50)
    assert all(policy.channels.get(c).incoming is None for c in ("shopify", "pos"))


def test_a_valid_rule_loads(rules_dir):
    path = rules_dir / "channels.yml"
    shipped = "incoming: {within_days: 14, percent: 50}"
    assert shipped in path.read_text()
    path.write_text(path.read_text().replace(shipped, "incoming: {within_days: 7, percent: 12.5}"))
    rule = load_policy(rules_dir, now=NOW).channels.get("b2b").incoming
    assert (rule.within_days, rule.percent) == (7, 12.5)
    assert rule.describe() == "12.5% of what is planned within 7 days"


@pytest.mark.parametrize(
    ("rule", "key_path", "words"),
    [
        ("{within_days: 0, percent: 50}", "channels.0.incoming.within_days", "greater than 0"),
        ("{within_days: 7, percent: 0}", "channels.0.incoming.percent", "greater than 0"),
        ("{within_days: 7, percent: 120}", "channels.0.incoming.percent", "less than or equal"),
        ("{within_days: 7}", "channels.0.incoming.percent", "Field required"),
        ("{within_days: 7, percent: 50, days: 3}", "channels.0.incoming.days", "Extra inputs"),
        ("{within_days: soon, percent: 50}", "channels.0.incoming.within_days", "integer"),
        ("50", "channels.0.incoming", "valid dictionary"),
    ],
)
@pytest.mark.bad_input
def test_a_bad_rule_names_its_key_and_the_fix(rules_dir, rule, key_path, words):
    (issue,) = issues(rules_dir, rule)
    assert issue.key_path == key_path
    assert words in issue.message
    assert issue.fix
