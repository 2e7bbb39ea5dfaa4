"""Loading and validating `dbt_like_rules/` into one typed policy."""

from inventory_pipelines.rules.channels import AllocationMode, Channel, ChannelRules
from inventory_pipelines.rules.errors import RuleIssue, RulesError
from inventory_pipelines.rules.loader import Policy, default_rules_dir, load_policy, rules_digest
from inventory_pipelines.rules.warehouses import WarehouseStatus

__all__ = [
    "AllocationMode",
    "Channel",
    "ChannelRules",
    "Policy",
    "RuleIssue",
    "RulesError",
    "WarehouseStatus",
    "default_rules_dir",
    "load_policy",
    "rules_digest",
]
