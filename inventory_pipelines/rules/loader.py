"""Load and validate the rules folder into one typed `Policy`, before any run starts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inventory_pipelines.rules import strict_yaml
from inventory_pipelines.rules.automation import AutomationRules
from inventory_pipelines.rules.channels import AllocationMode, ChannelRules
from inventory_pipelines.rules.errors import RuleIssue, RulesError
from inventory_pipelines.rules.feeds import feed_source
from inventory_pipelines.rules.mappings import MappingRules
from inventory_pipelines.rules.models import load_models
from inventory_pipelines.rules.orders import OrderRules
from inventory_pipelines.rules.policies import PolicyRules
from inventory_pipelines.rules.suppressions import SuppressionRules
from inventory_pipelines.rules.vendors import VendorRules
from inventory_pipelines.rules.warehouses import WarehouseRules

RULES_DIR_ENV = "INVENTORY_RULES_DIR"

# Every file the policy is made of, and whether it must exist. A change to any of them (or to
# the SQL models) changes `Policy.version`, the code version of everything that depends on it.
RULE_FILES: dict[str, tuple[type[BaseModel], bool]] = {
    "warehouses.yml": (WarehouseRules, True),
    "channels.yml": (ChannelRules, True),
    "policies.yml": (PolicyRules, False),
    "suppressions.yml": (SuppressionRules, False),
    "mappings.yml": (MappingRules, False),
    "orders.yml": (OrderRules, False),
    "automation.yml": (AutomationRules, False),
    "vendors.yml": (VendorRules, False),
}


@dataclass(frozen=True)
class Policy:
    """Everything the rules folder declares, validated and consistent across files."""

    root: Path
    warehouses: WarehouseRules
    channels: ChannelRules
    policies: PolicyRules
    suppressions: SuppressionRules
    mappings: MappingRules
    version: str  # a digest of every rule file and model
    file_digests: Mapping[str, str] = field(default_factory=dict)  # as read at load time
    orders: OrderRules = field(default_factory=OrderRules)
    automation: AutomationRules = field(default_factory=AutomationRules)
    vendors: VendorRules = field(default_factory=VendorRules)

    def version_of(self, *files: str) -> str:
        """A digest of only `files` (e.g. "warehouses.yml"): the code version of an asset
        that depends on those rules and no others, so it goes stale only when they change."""
        joined = ",".join(f"{name}={self.file_digests.get(name, '')}" for name in files)
        return hashlib.sha256(joined.encode()).hexdigest()[:16]


def default_rules_dir() -> Path:
    """`$INVENTORY_RULES_DIR`, else `dbt_like_rules/` at the repository root."""
    configured = os.environ.get(RULES_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "dbt_like_rules"


def _read_yaml(path: Path, issues: list[RuleIssue]) -> Any:
    try:
        return strict_yaml.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        issues.append(RuleIssue(path.name, where, f"invalid YAML: {problem}", "fix the syntax"))
    return None


def _fix_for(error_type: str) -> str:
    return {
        "extra_forbidden": "remove the key or correct its spelling",
        "missing": "add the key",
        "enum": "use one of the allowed values",
        "union_tag_invalid": "use one of the allowed values",
        "union_tag_not_found": "add the key",
        "literal_error": "use one of the allowed values",
        "string_too_short": "give a non-empty value",
        "string_pattern_mismatch": "use lowercase letters, digits, '-' and '_'",
        "greater_than_equal": "use a value that is not negative",
        "greater_than": "use a positive value",
        "less_than_equal": "use a smaller value",
        "timezone_aware": "write the time with its offset, e.g. 2026-12-01T00:00:00Z",
        "datetime_from_date_parsing": "write a date-time, e.g. 2026-12-01T00:00:00Z",
    }.get(error_type, "correct the value")


def _validation_issues(file: str, exc: ValidationError) -> list[RuleIssue]:
    issues = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        issues.append(RuleIssue(file, path, message, _fix_for(error["type"])))
    return issues


def _cross_file_issues(parsed: dict[str, Any], now: datetime) -> list[RuleIssue]:
    """What no single file can know: references between files, shares, expired windows."""
    issues: list[RuleIssue] = []
    warehouses: WarehouseRules = parsed["warehouses.yml"]
    channels: ChannelRules = parsed["channels.yml"]
    codes = set(warehouses.codes())
    names = set(channels.names())
    known_warehouses = ", ".join(warehouses.codes())
    known_channels = ", ".join(channels.names())
    for i, channel in enumerate(channels.channels):
        for j, wh in enumerate(channel.warehouses):
            if wh.code not in codes:
                issues.append(
                    RuleIssue(
                        "channels.yml",
                        f"channels.{i}.warehouses.{j}.code",
                        f"unknown warehouse {wh.code!r} for channel {channel.name}",
                        f"use one of {known_warehouses}, or declare it in warehouses.yml",
                    )
                )
    orders: OrderRules = parsed["orders.yml"]
    for name in orders.channels:
        if name not in names:
            issues.append(
                RuleIssue(
                    "orders.yml",
                    f"channels.{name}",
                    f"unknown channel {name!r}",
                    f"use one of {known_channels}, or declare it in channels.yml",
                )
            )
    percent = [c for c in channels.channels if c.allocation.mode is AllocationMode.PERCENT]
    total = sum(c.allocation.percent or 0 for c in percent)
    if total > 100:
        shares = ", ".join(f"{c.name} {c.allocation.percent:g}%" for c in percent)
        issues.append(
            RuleIssue(
                "channels.yml",
                "channels.*.allocation.percent",
                f"ring-fenced shares sum to {total:g}% ({shares}), above 100%",
                "lower the percentages so they sum to 100 or less",
            )
        )
    policies: PolicyRules = parsed.get("policies.yml") or PolicyRules()
    for i, policy in enumerate(policies.policies):
        for j, name in enumerate(policy.channels):
            if name not in names:
                issues.append(
                    RuleIssue(
                        "policies.yml",
                        f"policies.{i}.channels.{j}",
                        f"unknown channel {name!r}",
                        f"use one of {known_channels}",
                    )
                )
    suppressions: SuppressionRules = parsed.get("suppressions.yml") or SuppressionRules()
    windows = suppressions.suppressions
    for i, s in enumerate(windows):
        path = f"suppressions.{i}"
        if s.channel != "*" and s.channel not in names:
            issues.append(
                RuleIssue(
                    "suppressions.yml",
                    f"{path}.channel",
                    f"unknown channel {s.channel!r}",
                    f"use one of {known_channels}, or '*' for all",
                )
            )
        if s.until <= now:
            issues.append(
                RuleIssue(
                    "suppressions.yml",
                    f"{path}.until",
                    f"suppression expired at {s.until.isoformat()} ({s.reason})",
                    "remove the expired suppression",
                )
            )
        for k in range(i):
            other = windows[k]
            same_channel = other.channel == s.channel or "*" in (other.channel, s.channel)
            same_scope = other.sku == s.sku and same_channel
            if same_scope and s.start < other.until and other.start < s.until:
                issues.append(
                    RuleIssue(
                        "suppressions.yml",
                        path,
                        f"overlaps suppressions.{k} (same SKU pattern {s.sku!r} and channel)",
                        "merge the two windows into one",
                    )
                )
    issues.extend(_feed_issues(warehouses, parsed.get("vendors.yml") or VendorRules()))
    mappings: MappingRules = parsed.get("mappings.yml") or MappingRules()
    for i, m in enumerate(mappings.mappings):
        if m.channel not in names:
            issues.append(
                RuleIssue(
                    "mappings.yml",
                    f"mappings.{i}.channel",
                    f"unknown channel {m.channel!r}",
                    f"use one of {known_channels}",
                )
            )
    return issues


def _feed_issues(warehouses: WarehouseRules, vendors: VendorRules) -> list[RuleIssue]:
    """A feed read by two suppliers (vendors or 3PL warehouses): one file cannot be the stock
    of both, so the second is a copy-paste slip that would count the first's stock twice."""
    issues: list[RuleIssue] = []
    readers: dict[str, str] = {}
    declared = [
        ("warehouses.yml", f"warehouses.{i}.feed", f"warehouse {w.code}", w.feed)
        for i, w in enumerate(warehouses.warehouses)
    ] + [
        ("vendors.yml", f"vendors.{i}.feed", f"vendor {v.code}", v.feed)
        for i, v in enumerate(vendors.vendors)
    ]
    for file, path, who, feed in declared:
        if feed is None:
            continue
        source = feed_source(feed)
        if source in readers:
            issues.append(
                RuleIssue(
                    file,
                    path,
                    f"{who} reads the feed {source}, already the feed of {readers[source]}",
                    "give each vendor and 3PL warehouse its own feed",
                )
            )
        else:
            readers[source] = who
    return issues


def rules_digest(root: Path) -> str:
    """A digest of every rule file and SQL model: it changes when any rule changes."""
    digest = hashlib.sha256()
    files = [root / name for name in RULE_FILES]
    models = root / "models"
    if models.is_dir():
        files += sorted(p for p in models.rglob("*") if p.suffix in {".sql", ".yml", ".yaml"})
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_policy(root: Path | str | None = None, *, now: datetime | None = None) -> Policy:
    """Read and validate every rule file in `root`; raise `RulesError` listing all problems."""
    root = Path(root) if root is not None else default_rules_dir()
    now = now or datetime.now(UTC)
    if not root.is_dir():
        raise RulesError([RuleIssue(str(root), "", "rules folder not found", f"create {root}")])
    issues: list[RuleIssue] = []
    parsed: dict[str, Any] = {}
    for name, (model, required) in RULE_FILES.items():
        path = root / name
        if not path.exists():
            if required:
                issues.append(RuleIssue(name, "", "file is missing", f"create {path}"))
            else:
                parsed[name] = model()
            continue
        known = len(issues)
        data = _read_yaml(path, issues)
        if len(issues) > known:
            continue  # unreadable: validating it would only add noise
        try:
            parsed[name] = model.model_validate(data if data is not None else {})
        except ValidationError as exc:
            issues.extend(_validation_issues(name, exc))
    if not issues:
        issues.extend(_cross_file_issues(parsed, now))
    try:
        load_models(root)
    except RulesError as exc:
        issues.extend(exc.issues)
    if issues:
        raise RulesError(issues)
    return Policy(
        root=root,
        warehouses=parsed["warehouses.yml"],
        channels=parsed["channels.yml"],
        policies=parsed["policies.yml"],
        suppressions=parsed["suppressions.yml"],
        mappings=parsed["mappings.yml"],
        orders=parsed["orders.yml"],
        automation=parsed["automation.yml"],
        vendors=parsed["vendors.yml"],
        version=rules_digest(root),
        file_digests={
            name: hashlib.sha256((root / name).read_bytes()).hexdigest()[:16]
            for name in RULE_FILES
            if (root / name).is_file()
        },
    )
