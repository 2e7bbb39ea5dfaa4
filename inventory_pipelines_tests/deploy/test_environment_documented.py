"""The README's *Deployment* section names every environment variable the code reads.

What the code reads is found in its source (`env_scan`); what the README names is every
`VARIABLE` in backticks in that section, and, for the channels, the table of each kind's
`INVENTORY_CHANNEL_<NAME>_<FIELD>` fields (required, optional).
"""

from __future__ import annotations

import re

from inventory_pipelines.channels.base import ChannelSpec
from inventory_pipelines.channels.factory import KINDS
from inventory_pipelines_tests.deploy import files
from inventory_pipelines_tests.deploy.env_scan import (
    channel_fields,
    variables_in_package,
    variables_in_source,
)

SECTION = "Deployment"
CHANNEL_PATTERN = "INVENTORY_CHANNEL_<NAME>_<FIELD>"

#: Variables the code reads that the README's deployment section need not name, and why. None
#: today: the sandbox reads none and the tests' own (INVENTORY_TEST_PG_URL, CI) are not in the
#: package. A variable only a sandbox or a test sets would go here, with its reason.
NOT_DEPLOYMENT_SETTINGS: dict[str, str] = {}


def _named(section: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]*)`", section))


def _channel_table(section: str) -> dict[str, tuple[set[str], set[str]]]:
    """kind -> (required fields, optional fields), from the rows `| `kind` | ... | ... |`."""
    rows: dict[str, tuple[set[str], set[str]]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].strip("`") in KINDS:
            required, optional = (set(re.findall(r"`([A-Z_]+)`", c)) for c in cells[1:])
            rows[cells[0].strip("`")] = (required, optional)
    return rows


def test_the_scanner_finds_a_variable_read_every_way_the_code_reads_one():
    source = """
import os
import dagster as dg
from dagster import EnvVar
TOKEN_ENV = "INVENTORY_SOME_TOKEN"
a = os.environ.get("ALPHA", "x")
b = os.environ["BRAVO"]
c = os.getenv("CHARLIE")
d = dg.EnvVar("DELTA").get_value()
e = EnvVar("ECHO")
f = "FOXTROT" in os.environ
def g(env):
    return env.get(TOKEN_ENV), env["GOLF"], local.get("HOTEL")
names = {"url": "ODOO_SOMETHING"}
h = os.environ.get(name_from_elsewhere)
not_a_variable = {"key": "lower_case", "CONSTANT": 1}
"""
    assert variables_in_source(source) == {
        "ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL",
        "INVENTORY_SOME_TOKEN", "ODOO_SOMETHING",
    }  # fmt: skip


def test_the_scanner_reads_a_kinds_fields_from_what_its_connect_reads():
    def connect(settings):
        return (settings["URL"], settings.get("PAGE_SIZE", "50"), settings.get("TOKEN"))

    spec = ChannelSpec(kind="demo", required=("URL",), connect=connect, sandbox_settings=dict)
    assert channel_fields(spec) == ("URL", "PAGE_SIZE", "TOKEN")


def test_the_readme_deployment_section_names_every_variable_the_code_reads():
    section = files.readme_section(SECTION)
    read = variables_in_package()
    missing = {
        name: sorted(modules)
        for name, modules in read.items()
        if name not in _named(section) and name not in NOT_DEPLOYMENT_SETTINGS
    }
    assert not missing, f"read by the code, not in the README's {SECTION} section: {missing}"


def test_the_readme_deployment_section_names_the_variables_of_the_instance_file():
    assert files.instance_env_vars() <= _named(files.readme_section(SECTION))


def test_the_readme_gives_every_kind_of_channel_its_fields_required_and_optional():
    section = files.readme_section(SECTION)
    assert f"`{CHANNEL_PATTERN}`" in section
    table = _channel_table(section)
    assert set(table) == set(KINDS)
    for kind, spec in KINDS.items():
        required, optional = table[kind]
        assert required == set(spec.required), kind
        assert optional == set(channel_fields(spec)) - set(spec.required), kind


def test_the_readme_names_every_variable_compose_and_helm_set():
    named = _named(files.readme_section(SECTION))
    compose = files.compose()["services"]["code-location"]["environment"]
    # the channels' are named by the pattern and the table of fields above
    assert {name for name in compose if not name.startswith("INVENTORY_CHANNEL_")} <= named
