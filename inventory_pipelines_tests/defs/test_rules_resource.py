"""The policy as a resource: the location's rules, or another folder with the same channels."""

import shutil

import dagster as dg
import pytest
import yaml

from inventory_pipelines.defs.resources import RulesResource
from inventory_pipelines.defs.shared import POLICY
from inventory_pipelines.rules import default_rules_dir


def test_the_locations_folder_gives_the_policy_the_partitions_were_built_from():
    assert RulesResource(directory=str(default_rules_dir())).policy() is POLICY


def test_another_folder_with_the_same_channels_gives_its_own_rules(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), folder)
    channels = yaml.safe_load((folder / "channels.yml").read_text())
    channels["channels"][0]["safety_buffer"] = {"units": 7}
    (folder / "channels.yml").write_text(yaml.safe_dump(channels))
    policy = RulesResource(directory=str(folder)).policy()
    assert policy.channels.names() == POLICY.channels.names()
    assert policy.channels.channels[0].safety_buffer.units == 7


@pytest.mark.bad_input
def test_a_folder_with_other_channels_is_refused_with_the_fix(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), folder)
    channels = yaml.safe_load((folder / "channels.yml").read_text())
    channels["channels"].append(
        {"name": "market", "kind": "generic", "warehouses": [{"code": "MAIN"}],
         "allocation": {"mode": "shared"}}
    )  # fmt: skip
    (folder / "channels.yml").write_text(yaml.safe_dump(channels))
    with pytest.raises(dg.Failure, match="INVENTORY_RULES_DIR"):
        RulesResource(directory=str(folder)).policy()
