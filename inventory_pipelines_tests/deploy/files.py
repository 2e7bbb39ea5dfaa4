"""The deployment files, read as their tools read them (YAML, the README's Markdown)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET = "inventory-pipelines"  # the Kubernetes Secret of the project's settings


def load(path: Path) -> Any:
    """One YAML document (compose's `<<` merges and anchors resolved, as compose resolves them)."""
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    """deploy/docker-compose.yml."""
    return load(DEPLOY / "docker-compose.yml")


def helm_values() -> dict[str, Any]:
    """deploy/helm/values.yaml."""
    return load(DEPLOY / "helm" / "values.yaml")


def user_deployment() -> dict[str, Any]:
    """The one code location of the Helm values."""
    [deployment] = helm_values()["dagster-user-deployments"]["deployments"]
    return deployment


def receiver_manifests() -> dict[str, dict[str, Any]]:
    """deploy/helm/webhook-receiver.yaml, by kind."""
    documents = yaml.safe_load_all((DEPLOY / "helm" / "webhook-receiver.yaml").read_text())
    return {document["kind"]: document for document in documents}


def workspace() -> dict[str, Any]:
    """deploy/workspace.yaml."""
    return load(DEPLOY / "workspace.yaml")


def instance() -> dict[str, Any]:
    """deploy/dagster.yaml."""
    return load(DEPLOY / "dagster.yaml")


def instance_env_vars() -> set[str]:
    """The variables deploy/dagster.yaml reads (`{env: NAME}`)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(instance())
    return found


def locked_version(package: str) -> str:
    """The version uv.lock pins for a package."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    [version] = [p["version"] for p in lock["package"] if p["name"] == package]
    return version


def project_version() -> str:
    """pyproject.toml's version: the tag of the images."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def readme_section(title: str) -> str:
    """The README's `## <title>` section, up to the next `## ` heading."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"the README has no section '## {title}'"
    return match.group(1)
