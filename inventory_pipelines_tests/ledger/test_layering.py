"""The ledger knows SQL only: no HTTP, no Dagster, no sandbox, no channels."""

from __future__ import annotations

import ast
from pathlib import Path

import inventory_pipelines.ledger as ledger

FORBIDDEN = (
    "dagster",
    "httpx",
    "inventory_pipelines.channels",
    "inventory_pipelines.sandbox",
    "inventory_pipelines.defs",
)


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_ledger_imports_no_http_dagster_channels_or_sandbox() -> None:
    package = Path(ledger.__file__).parent
    offenders = {
        f"{path.relative_to(package)}: {name}"
        for path in package.rglob("*.py")
        for name in imported_modules(path)
        if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)
    }
    assert offenders == set()
