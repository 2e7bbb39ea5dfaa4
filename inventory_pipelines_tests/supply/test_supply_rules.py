"""`vendors.yml` and the 3PL feed of `warehouses.yml`: loaded with the other rule files, and
every mistake named by file, key path and fix, without ever repeating a credential."""

from __future__ import annotations

from inventory_pipelines.rules import load_policy
from inventory_pipelines.rules.feeds import HttpFeed, feed_source
from inventory_pipelines.rules.warehouses import StockSource
from inventory_pipelines_tests.rules_files import NOW, problems


def vendors(feed: str, extra: str = "") -> str:
    return f"""
vendors:
  - code: acme
    odoo_partner: Acme Drop-Ship
    feed: {feed}
{extra}"""


HTTP = "{kind: http, url: 'https://feeds.example.com/acme.csv'}"


def test_the_shipped_vendor_and_3pl_feeds_load():
    policy = load_policy()
    vendor = policy.vendors.get("bright-dropship")
    assert vendor.odoo_partner == "Bright Drop-Ship Co"
    assert isinstance(vendor.feed, HttpFeed) and vendor.feed.columns.updated_at == "updated_at"
    assert vendor.buffer.units == 1 and vendor.lead_time_days == 2
    west = policy.warehouses.get("WEST")
    assert west.stock_source is StockSource.ODOO and west.feed is not None
    assert policy.warehouses.with_feed() == ["WEST"]


def test_without_a_vendors_file_there_are_no_vendors(rules_dir):
    (rules_dir / "vendors.yml").unlink()
    assert load_policy(rules_dir, now=NOW).vendors.codes() == []


def test_each_feed_kind_loads_with_its_defaults(rules_dir):
    (rules_dir / "vendors.yml").write_text(
        """
vendors:
  - code: by-http
    odoo_partner: A
    feed: {kind: http, url: 'https://a.example/x.json', format: json, encoding: cp1252,
           auth_header_env: INVENTORY_VENDOR_A_AUTH, records_key: items}
  - code: by-folder
    odoo_partner: B
    feed: {kind: folder, path: 's3://drop/vendors/b', pattern: 'stock_*.csv'}
  - code: by-api
    odoo_partner: C
    feed: {kind: channel_api, url: 'https://c.example/api', secret_env: INVENTORY_VENDOR_C_KEY}
    buffer: {percent: 10}
"""
    )
    policy = load_policy(rules_dir, now=NOW)
    http, folder, api = (v.feed for v in policy.vendors.vendors)
    assert http.encoding == "cp1252" and http.columns.code == "code"
    assert folder.format == "csv" and feed_source(folder) == "s3://drop/vendors/b/stock_*.csv"
    assert api.secret_env == "INVENTORY_VENDOR_C_KEY"
    assert policy.vendors.get("by-api").freshness_hours == 24


def test_an_unknown_feed_kind_names_the_allowed_ones(rules_dir):
    (issue,) = problems(rules_dir, "vendors.yml", vendors("{kind: ftp, url: 'ftp://x/y'}"))
    assert issue.key_path == "vendors.0.feed"
    assert "'http', 'folder', 'channel_api'" in issue.message
    assert "allowed values" in issue.fix


def test_a_credential_in_the_url_is_refused_without_repeating_it(rules_dir):
    feed = "{kind: http, url: 'https://acme:hunter2@feeds.example.com/x.csv'}"
    (issue,) = problems(rules_dir, "vendors.yml", vendors(feed))
    assert issue.key_path == "vendors.0.feed.http.url"
    assert "environment variable" in issue.message
    assert "hunter2" not in str(issue)


def test_a_credential_in_the_query_is_refused_without_repeating_it(rules_dir):
    feed = "{kind: http, url: 'https://x.example/a.csv?format=csv&api_key=k-998877'}"
    (issue,) = problems(rules_dir, "vendors.yml", vendors(feed))
    assert issue.key_path == "vendors.0.feed.http.url"
    assert "api_key=..." in issue.message and "k-998877" not in str(issue)


def test_a_secret_pasted_as_auth_header_env_is_refused_without_repeating_it(rules_dir):
    feed = "{kind: http, url: 'https://x.example/a.csv', auth_header_env: 'Bearer s3cr3t-t0ken'}"
    (issue,) = problems(rules_dir, "vendors.yml", vendors(feed))
    assert issue.key_path == "vendors.0.feed.http.auth_header_env"
    assert "names an environment variable" in issue.message
    assert "s3cr3t" not in str(issue)


def test_an_unknown_encoding_says_which_names_work(rules_dir):
    feed = "{kind: http, url: 'https://x.example/a.csv', encoding: klingon}"
    (issue,) = problems(rules_dir, "vendors.yml", vendors(feed))
    assert issue.key_path == "vendors.0.feed.http.encoding"
    assert "klingon" in issue.message and "cp1252" in issue.message


def test_a_buffer_needs_exactly_one_of_units_or_percent(rules_dir):
    (issue,) = problems(
        rules_dir, "vendors.yml", vendors(HTTP, "    buffer: {units: 2, percent: 5}\n")
    )
    assert issue.key_path == "vendors.0.buffer"
    assert "exactly one of `units` or `percent`" in issue.message


def test_freshness_and_lead_time_must_be_sensible(rules_dir):
    found = problems(
        rules_dir,
        "vendors.yml",
        vendors(HTTP, "    freshness_hours: 0\n    lead_time_days: -1\n"),
    )
    assert {i.key_path for i in found} == {"vendors.0.freshness_hours", "vendors.0.lead_time_days"}


def test_a_vendor_declared_twice_is_refused(rules_dir):
    text = vendors(HTTP) + (
        "  - code: acme\n    odoo_partner: Other\n"
        "    feed: {kind: http, url: 'https://x.example/b.csv'}\n"
    )
    (issue,) = problems(rules_dir, "vendors.yml", text)
    assert issue.key_path == "vendors" and "declared twice: acme" in issue.message


def test_a_feed_read_by_a_vendor_and_a_3pl_is_refused_across_files(rules_dir):
    west = "http://127.0.0.1:8095/feeds/west-3pl.csv"
    (issue,) = problems(rules_dir, "vendors.yml", vendors(f"{{kind: http, url: '{west}'}}"))
    assert issue.key_path == "vendors.0.feed"
    assert "already the feed of warehouse WEST" in issue.message


def test_a_3pl_stock_source_without_a_feed_is_refused(rules_dir):
    text = (rules_dir / "warehouses.yml").read_text()
    text = text.replace(
        "  - code: EAST\n    status: online\n", "  - code: EAST\n    stock_source: feed\n"
    )
    (issue,) = problems(rules_dir, "warehouses.yml", text)
    assert issue.key_path == "warehouses.1"
    assert "stock_source feed needs a `feed`" in issue.message


def test_a_bad_stock_source_lists_the_allowed_values(rules_dir):
    text = (rules_dir / "warehouses.yml").read_text()
    text = text.replace("stock_source: odoo", "stock_source: 3pl")
    (issue,) = problems(rules_dir, "warehouses.yml", text)
    assert issue.key_path == "warehouses.2.stock_source"
    assert "'odoo', 'feed' or 'both'" in issue.message


def test_a_folder_feed_on_another_scheme_is_refused(rules_dir):
    (issue,) = problems(
        rules_dir, "vendors.yml", vendors("{kind: folder, path: 'gs://bucket/x', pattern: '*'}")
    )
    assert issue.key_path == "vendors.0.feed.folder.path"
    assert "s3://bucket/prefix" in issue.message


def test_changing_vendors_changes_only_the_versions_that_read_it(rules_dir):
    before = load_policy(rules_dir, now=NOW)
    path = rules_dir / "vendors.yml"
    path.write_text(path.read_text().replace("lead_time_days: 2", "lead_time_days: 3"))
    after = load_policy(rules_dir, now=NOW)
    assert before.version_of("vendors.yml") != after.version_of("vendors.yml")
    assert before.version_of("channels.yml") == after.version_of("channels.yml")
