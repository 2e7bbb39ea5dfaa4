"""Load and validate the rules folder into one typed `Policy`, before any run starts."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inventory_pipelines.rules.errors import RuleIssue, RulesError
from inventory_pipelines.rules.warehouses import WarehouseRules

RULES_DIR_ENV = "INVENTORY_RULES_DIR"

# Every file the policy is made of; a change to any of them changes `Policy.version`.
RULE_FILES: dict[str, type[BaseModel]] = {
    "warehouses.yml": WarehouseRules,
}


@dataclass(frozen=True)
class Policy:
    """Everything the rules folder declares, validated."""

    root: Path
    warehouses: WarehouseRules
    version: str  # a digest of the rule files: the code version of what depends on them


def default_rules_dir() -> Path:
    """`$INVENTORY_RULES_DIR`, else `dbt_like_rules/` at the repository root."""
    configured = os.environ.get(RULES_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "dbt_like_rules"


def _read_yaml(path: Path, issues: list[RuleIssue]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        issues.append(RuleIssue(path.name, "", "file is missing", f"create {path}"))
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
        "too_short": "give at least one entry",
        "string_too_short": "give a non-empty value",
        "greater_than_equal": "use a value that is not negative",
        "less_than_equal": "use a smaller value",
    }.get(error_type, "correct the value")


def _validation_issues(file: str, exc: ValidationError) -> list[RuleIssue]:
    issues = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        issues.append(RuleIssue(file, path, message, _fix_for(error["type"])))
    return issues


def load_policy(root: Path | str | None = None) -> Policy:
    """Read and validate every rule file in `root`; raise `RulesError` listing all problems."""
    root = Path(root) if root is not None else default_rules_dir()
    if not root.is_dir():
        raise RulesError([RuleIssue(str(root), "", "rules folder not found", f"create {root}")])
    issues: list[RuleIssue] = []
    parsed: dict[str, BaseModel] = {}
    digest = hashlib.sha256()
    for name, model in RULE_FILES.items():
        path = root / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        known = len(issues)
        data = _read_yaml(path, issues)
        if len(issues) > known:
            continue  # unreadable: validating it would only add noise
        try:
            parsed[name] = model.model_validate(data if data is not None else {})
        except ValidationError as exc:
            issues.extend(_validation_issues(name, exc))
    if issues:
        raise RulesError(issues)
    return Policy(
        root=root,
        warehouses=parsed["warehouses.yml"],  # type: ignore[arg-type]
        version=digest.hexdigest()[:16],
    )
