"""Loading and validating `dbt_like_rules/`."""

from inventory_pipelines.rules.errors import RuleIssue, RulesError
from inventory_pipelines.rules.loader import Policy, default_rules_dir, load_policy

__all__ = ["Policy", "RuleIssue", "RulesError", "default_rules_dir", "load_policy"]
