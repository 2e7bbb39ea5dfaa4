"""Broken rule files fail loading with the file, the key path and the fix; before any run."""

from __future__ import annotations

import pytest

from inventory_pipelines.rules import RulesError, load_policy
from inventory_pipelines_tests.rules_files import NOW, problems

CHANNEL = """
  - name: {name}
    kind: generic
    warehouses: [{{code: {wh}}}]
    allocation: {allocation}
    safety_buffer: {buffer}
"""


def channels(*entries: dict) -> str:
    defaults = {"name": "a", "wh": "MAIN", "allocation": "{mode: shared}", "buffer": "{units: 0}"}
    return "channels:" + "".join(CHANNEL.format(**{**defaults, **e}) for e in entries)


def test_the_shipped_rules_load_with_every_file():
    policy = load_policy()
    assert policy.channels.names() == ["shopify", "woocommerce", "amazon", "pos", "b2b"]
    assert policy.policies.policies and policy.suppressions.suppressions


@pytest.mark.bad_input
def test_bad_yaml_in_channels_names_the_file_and_line(rules_dir):
    (issue,) = problems(rules_dir, "channels.yml", "channels:\n  - name: [a\n")
    assert issue.file == "channels.yml" and issue.key_path.startswith("line ")


@pytest.mark.bad_input
def test_an_unknown_key_names_the_channel_entry(rules_dir):
    (issue,) = problems(rules_dir, "channels.yml", channels({}) + "    colour: red\n")
    assert (issue.file, issue.key_path) == ("channels.yml", "channels.0.colour")
    assert "remove the key" in issue.fix


@pytest.mark.bad_input
def test_an_unknown_warehouse_names_the_channel_and_the_known_ones(rules_dir):
    (issue,) = problems(rules_dir, "channels.yml", channels({"wh": "MARS"}))
    assert (issue.file, issue.key_path) == ("channels.yml", "channels.0.warehouses.0.code")
    assert "MARS" in issue.message and "MAIN, EAST, WEST" in issue.fix


@pytest.mark.bad_input
def test_ring_fenced_shares_above_100_percent_are_refused(rules_dir):
    (issue,) = problems(
        rules_dir,
        "channels.yml",
        channels(
            {"name": "a", "allocation": "{mode: percent, percent: 60}"},
            {"name": "b", "allocation": "{mode: percent, percent: 50}"},
        ),
    )
    assert issue.file == "channels.yml" and "110%" in issue.message
    assert "a 60%" in issue.message and "b 50%" in issue.message


@pytest.mark.bad_input
def test_a_negative_buffer_is_refused(rules_dir):
    (issue,) = problems(rules_dir, "channels.yml", channels({"buffer": "{units: -2}"}))
    assert (issue.file, issue.key_path) == ("channels.yml", "channels.0.safety_buffer.units")
    assert "not negative" in issue.fix


@pytest.mark.bad_input
def test_a_negative_buffer_in_a_policy_is_refused(rules_dir):
    text = (
        "policies:\n  - name: p\n    match: {sku: 'A*'}\n    set: {safety_buffer: {percent: -5}}\n"
    )
    (issue,) = problems(rules_dir, "policies.yml", text)
    assert (issue.file, issue.key_path) == ("policies.yml", "policies.0.set.safety_buffer.percent")


@pytest.mark.bad_input
def test_a_policy_for_an_unknown_channel_is_refused(rules_dir):
    text = (
        "policies:\n  - name: p\n    match: {sku: 'A*'}\n"
        "    channels: [ebay]\n    set: {pack_size: 2}\n"
    )
    (issue,) = problems(rules_dir, "policies.yml", text)
    assert (issue.file, issue.key_path) == ("policies.yml", "policies.0.channels.0")


SUPPRESSION = "  - {{channel: {channel}, sku: '{sku}', from: {start}, until: {until}, reason: r}}\n"


@pytest.mark.bad_input
def test_an_expired_suppression_is_refused(rules_dir):
    text = "suppressions:\n" + SUPPRESSION.format(
        channel="amazon", sku="A*", start="2026-01-01T00:00:00Z", until="2026-02-01T00:00:00Z"
    )
    (issue,) = problems(rules_dir, "suppressions.yml", text)
    assert (issue.file, issue.key_path) == ("suppressions.yml", "suppressions.0.until")
    assert "expired" in issue.message and "remove" in issue.fix


@pytest.mark.bad_input
def test_overlapping_suppressions_are_refused(rules_dir):
    text = "suppressions:\n" + "".join(
        SUPPRESSION.format(channel=ch, sku="A*", start=start, until=until)
        for ch, start, until in [
            ("amazon", "2026-11-01T00:00:00Z", "2026-12-15T00:00:00Z"),
            ("'*'", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ]
    )
    (issue,) = problems(rules_dir, "suppressions.yml", text)
    assert (issue.file, issue.key_path) == ("suppressions.yml", "suppressions.1")
    assert "overlaps suppressions.0" in issue.message


@pytest.mark.bad_input
def test_a_suppression_without_timezone_says_how_to_write_it(rules_dir):
    text = "suppressions:\n" + SUPPRESSION.format(
        channel="amazon", sku="A*", start="2026-11-01T00:00:00", until="2027-01-01T00:00:00Z"
    )
    (issue,) = problems(rules_dir, "suppressions.yml", text)
    assert (issue.file, issue.key_path) == ("suppressions.yml", "suppressions.0.from")
    assert "offset" in issue.fix


@pytest.mark.bad_input
def test_a_duplicate_mapping_is_refused(rules_dir):
    text = (
        "mappings:\n"
        "  - {sku: SKU-1, channel: shopify, listing_id: L1}\n"
        "  - {sku: SKU-1, channel: shopify, listing_id: L2}\n"
    )
    (issue,) = problems(rules_dir, "mappings.yml", text)
    assert issue.file == "mappings.yml" and "mappings.1" in issue.message
    assert "already mapped by mappings.0" in issue.message


@pytest.mark.bad_input
def test_an_sql_model_with_an_unknown_ref_is_refused(rules_dir):
    (rules_dir / "models" / "broken.sql").write_text("SELECT * FROM {{ ref('nowhere') }}")
    with pytest.raises(RulesError) as caught:
        load_policy(rules_dir, now=NOW)
    (issue,) = caught.value.issues
    assert (issue.file, issue.key_path) == ("models/broken.sql", "ref('nowhere')")
    assert "canonical_inventory" in issue.fix


def test_changing_a_rule_file_changes_only_the_versions_that_depend_on_it(rules_dir):
    before = load_policy(rules_dir, now=NOW)
    path = rules_dir / "channels.yml"
    path.write_text(path.read_text().replace("min_threshold: 12", "min_threshold: 24"))
    after = load_policy(rules_dir, now=NOW)
    assert after.version_of("channels.yml") != before.version_of("channels.yml")
    assert after.version_of("warehouses.yml") == before.version_of("warehouses.yml")


def test_the_shipped_order_rules_give_each_channel_its_policy():
    orders = load_policy().orders
    assert orders.for_channel("amazon").customer.partner == "Amazon Marketplace"
    assert orders.for_channel("amazon").cancellation.after_fulfilment.value == "reject"
    assert orders.for_channel("shopify") == orders.defaults
    assert orders.defaults.returns.restock.value == "on_receipt"


@pytest.mark.parametrize(
    ("text", "key_path", "words"),
    [
        ("channels:\n  ebay: {}\n", "channels.ebay", "unknown channel 'ebay'"),
        (
            "defaults:\n  customer: {match: partner}\n",
            "defaults.customer",
            "needs `partner`",
        ),
        (
            "defaults:\n  cancellation: {after_fulfilment: shrug}\n",
            "defaults.cancellation.after_fulfilment",
            "accept",
        ),
        (
            "defaults:\n  returns: {restock: on_receipt, colour: red}\n",
            "defaults.returns.colour",
            "",
        ),
    ],
)
def test_a_broken_orders_file_names_the_key(rules_dir, text, key_path, words):
    (issue,) = problems(rules_dir, "orders.yml", text)
    assert issue.key_path == key_path
    assert words in f"{issue.message} {issue.fix}"


@pytest.mark.bad_input
def test_a_key_given_twice_is_refused_with_its_line_not_silently_the_last_one(rules_dir):
    text = channels({"buffer": "{units: 2}"}) + "    safety_buffer: {units: 0}\n"
    (issue,) = problems(rules_dir, "channels.yml", text)
    assert issue.file == "channels.yml"
    assert issue.key_path == "line 7, column 5"
    assert "duplicate key 'safety_buffer' (first given on line 6)" in issue.message


@pytest.mark.bad_input
def test_a_key_given_twice_in_a_models_tests_file_is_refused(rules_dir):
    models = rules_dir / "models"
    name = sorted(models.glob("*.sql"))[0].stem
    (models / "twice.yml").write_text(
        f"models:\n  - name: {name}\n    tests: []\n    tests: [unique: sku]\n"
    )
    with pytest.raises(RulesError) as caught:
        load_policy(rules_dir, now=NOW)
    (issue,) = [i for i in caught.value.issues if i.file == "models/twice.yml"]
    assert "duplicate key 'tests'" in issue.message and issue.key_path.startswith("line 4")


@pytest.mark.bad_input
def test_automation_settings_load_and_a_bad_cron_or_unknown_key_is_named(rules_dir):
    automation = load_policy(rules_dir, now=NOW).automation
    assert automation.schedules.batch.cron == "*/15 * * * *"
    assert automation.change_sensor.fast_path.velocity_tiers == ("A",)
    [bad] = problems(rules_dir, "automation.yml", "schedules:\n  batch: {cron: 'every 15'}\n")
    assert bad.key_path == "schedules.batch.cron" and "cron expression of 5 fields" in bad.message
    [typo] = problems(rules_dir, "automation.yml", "drift: {warn_sku: 3}\n")
    assert typo.key_path == "drift.warn_sku" and "remove the key" in typo.fix


def test_without_an_automation_file_the_defaults_apply(rules_dir):
    (rules_dir / "automation.yml").unlink()
    automation = load_policy(rules_dir, now=NOW).automation
    assert automation.change_sensor.interval_s == 5 and automation.drift.error_percent == 2.0


@pytest.mark.parametrize(
    ("schedule", "said"),
    [
        ("{cron: '0 25 * * *'}", "the hour field '25' is outside 0-23"),
        ("{cron: '*/0 * * * *'}", "has a step below 1"),
        ("{cron: '0 2 * * *', timezone: Europe/Pariss}", "is not a time zone"),
    ],
)
@pytest.mark.bad_input
def test_a_schedule_dagster_could_not_load_is_refused_by_the_rules(rules_dir, schedule, said):
    # either would stop the whole code location from loading, every sensor and schedule with it
    [bad] = problems(rules_dir, "automation.yml", f"schedules:\n  batch: {schedule}\n")
    assert bad.key_path.startswith("schedules.batch") and said in bad.message
