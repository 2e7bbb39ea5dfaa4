"""Which environment variables the product code reads, found in its source (no import, no run).

A variable counts as read where its name, a string literal or a module constant holding one, is:

- the key of `os.environ.get(...)`, `os.environ[...]`, `os.getenv(...)`, `... in os.environ`;
- the name of a `dg.EnvVar(...)` (Dagster resolves it from the environment);
- the key of `.get(...)`, `[...]` or `in` on a mapping the code builds from the environment, which
  this code names `env`, `environ` or `local` (`settings.local_env()`, `os.environ` passed on);
- any other string literal of the form `INVENTORY_*`, `ODOO_*`, `DAGSTER_*`, `AWS_*`: the
  project's own prefixes, so a name kept in a dict or a list of names to check is not missed.

Channel variables are built, not written: `INVENTORY_CHANNEL_<NAME>_<FIELD>` with the fields
each kind's `connect` reads from its settings (`settings["X"]`, `settings.get("X")`), plus
`WEBHOOK_SECRET` for the kinds that take webhooks (`channels/factory.py`).
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

from inventory_pipelines.channels.base import ChannelSpec

PACKAGE = Path(__file__).resolve().parents[2] / "inventory_pipelines"

#: names of the mappings this code builds from the environment (see the module docstring)
ENV_MAPPINGS = frozenset({"env", "environ", "local"})
PROJECT_PREFIXES = re.compile(r"^(INVENTORY|ODOO|DAGSTER|AWS)_[A-Z0-9_]*[A-Z0-9]$")
VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")
#: calls whose first argument is a variable's name: `os.getenv`, `dg.EnvVar`
READERS = frozenset({"getenv", "EnvVar"})


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _is_env_mapping(node: ast.AST) -> bool:
    return _is_os_environ(node) or (isinstance(node, ast.Name) and node.id in ENV_MAPPINGS)


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "LITERAL"` assignments."""
    found: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _name_of(node: ast.AST, constants: Mapping[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value
    elif isinstance(node, ast.Name) and node.id in constants:
        value = constants[node.id]
    else:
        return None
    return value if VARIABLE.match(value) else None


def _called(func: ast.AST) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _keys_read(tree: ast.Module) -> Iterable[ast.AST]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            is_get = isinstance(func, ast.Attribute) and func.attr == "get"
            if _called(func) in READERS or (is_get and _is_env_mapping(func.value)):
                yield node.args[0]
        elif isinstance(node, ast.Subscript) and _is_env_mapping(node.value):
            yield node.slice
        elif (
            isinstance(node, ast.Compare)
            and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            and any(_is_env_mapping(c) for c in node.comparators)
        ):
            yield node.left
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and PROJECT_PREFIXES.match(node.value)
        ):
            yield node


def variables_in_source(source: str, constants: Mapping[str, str] | None = None) -> set[str]:
    """The environment variables one module's source reads."""
    tree = ast.parse(source)
    known = {**(constants or {}), **_constants(tree)}
    names = (_name_of(key, known) for key in _keys_read(tree))
    return {name for name in names if name}


@functools.cache
def variables_in_package(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Every variable the package reads, with the modules (relative paths) that read it.

    Module constants are resolved across modules too (`from x import TOKEN_ENV`)."""
    sources = {path: path.read_text() for path in sorted(package.rglob("*.py"))}
    constants: dict[str, str] = {}
    for source in sources.values():
        constants.update(_constants(ast.parse(source)))
    found: dict[str, set[str]] = {}
    for path, source in sources.items():
        for name in variables_in_source(source, constants):
            found.setdefault(name, set()).add(str(path.relative_to(package.parent)))
    return found


def channel_fields(spec: ChannelSpec) -> tuple[str, ...]:
    """The `<FIELD>`s of `INVENTORY_CHANNEL_<NAME>_<FIELD>` a kind of channel reads."""
    function = ast.parse(textwrap.dedent(inspect.getsource(spec.connect))).body[0]
    assert isinstance(function, ast.FunctionDef)
    settings = function.args.args[0].arg
    fields = list(spec.required)
    for node in ast.walk(function):
        key = None
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == settings
        ):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == settings
        ):
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            fields.append(key.value)
    if spec.webhooks is not None:
        fields.append("WEBHOOK_SECRET")
    return tuple(dict.fromkeys(fields))
