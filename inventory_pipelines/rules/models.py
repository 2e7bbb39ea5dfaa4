"""SQL models in `dbt_like_rules/models/`: their refs, and the tests declared in YAML next to them.

A model is a `SELECT` in `<name>.sql` that names its inputs with `{{ ref('x') }}`, where `x` is
another model or a table asset (by the last part of its key, e.g. `canonical_inventory`).
Tests live in any `*.yml` of the folder, dbt-style:

    models:
      - name: sku_velocity
        columns:
          - name: sku
            tests: [not_null, unique]
          - name: units_per_day
            tests: [{accepted_range: {min: 0}}]
        tests:
          - expression: "velocity_tier IN ('A', 'B', 'C')"
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inventory_pipelines.rules import strict_yaml
from inventory_pipelines.rules.errors import RuleIssue, RulesError

# The table assets a model may `ref()`, by the last part of their key (DESIGN.md section 2).
TABLE_ASSETS: dict[str, tuple[str, ...]] = {
    key[-1]: key
    for key in (
        ("odoo", "products"),
        ("odoo", "locations"),
        ("odoo", "stock_quants"),
        ("odoo", "stock_moves"),
        ("inventory", "canonical_inventory"),
        ("inventory", "quarantine"),
        ("inventory", "channel_allocation"),
    )
}

# The columns each table asset hands a model, with their DuckDB types: what `bind_models` checks
# the SQL against when there is no data yet. They are the frames the assets write: the Odoo
# snapshot (odoo/snapshot.py, odoo/moves.py and the columns the `stock_moves` asset joins on),
# the location roles (inventory/locations.py), the canonical tables (inventory/canonical.py)
# and the allocation (allocation/engine.py). test_model_binding.py keeps the two in step.
_TIMESTAMP = "TIMESTAMP WITH TIME ZONE"
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "products": {
        "product_id": "BIGINT",
        "sku": "VARCHAR",
        "barcode": "VARCHAR",
        "name": "VARCHAR",
        "template_id": "BIGINT",
        "uom_id": "BIGINT",
        "uom": "VARCHAR",
        "base_uom": "VARCHAR",
        "factor": "DOUBLE",
        "category": "VARCHAR",
        "storable": "BOOLEAN",
        "active": "BOOLEAN",
        "write_date": _TIMESTAMP,
    },
    "locations": {
        "location_id": "BIGINT",
        "name": "VARCHAR",
        "complete_name": "VARCHAR",
        "usage": "VARCHAR",
        "parent_id": "BIGINT",
        "warehouse_id": "BIGINT",
        "warehouse_code": "VARCHAR",
        "active": "BOOLEAN",
        "role": "VARCHAR",
        "warehouse": "VARCHAR",
        "role_problem": "VARCHAR",
    },
    "stock_quants": {
        "quant_id": "BIGINT",
        "product_id": "BIGINT",
        "location_id": "BIGINT",
        "lot_id": "BIGINT",
        "quantity": "DOUBLE",
        "reserved_quantity": "DOUBLE",
        "write_date": _TIMESTAMP,
    },
    "stock_moves": {
        "move_id": "BIGINT",
        "product_id": "BIGINT",
        "quantity": "DOUBLE",
        "location_id": "BIGINT",
        "location_dest_id": "BIGINT",
        "state": "VARCHAR",
        "date": _TIMESTAMP,
        "sku": "VARCHAR",
        "source_usage": "VARCHAR",
        "destination_usage": "VARCHAR",
    },
    "canonical_inventory": {
        "sku": "VARCHAR",
        "warehouse": "VARCHAR",
        "product_id": "BIGINT",
        "on_hand": "DOUBLE",
        "reserved": "DOUBLE",
        "quality_hold": "DOUBLE",
        "in_transit": "DOUBLE",
        "available": "DOUBLE",
        "uom": "VARCHAR",
        "as_of": _TIMESTAMP,
        "odoo_on_hand": "DOUBLE",
    },
    "quarantine": {
        "source": "VARCHAR",
        "record_id": "BIGINT",
        "product_id": "BIGINT",
        "sku": "VARCHAR",
        "location_id": "BIGINT",
        "warehouse": "VARCHAR",
        "quantity": "DOUBLE",
        "reason": "VARCHAR",
        "detail": "VARCHAR",
        "as_of": _TIMESTAMP,
    },
    "channel_allocation": {
        "channel": "VARCHAR",
        "sku": "VARCHAR",
        "own": "DOUBLE",
        "dropship": "DOUBLE",
        "incoming": "DOUBLE",
        "pool": "DOUBLE",
        "pending": "DOUBLE",
        "pending_dropship": "DOUBLE",
        "net": "DOUBLE",
        "allocated": "DOUBLE",
        "allocated_own": "DOUBLE",
        "buffered": "DOUBLE",
        "ring_fenced": "BOOLEAN",
        "fence_pool": "DOUBLE",
        "fence_base": "DOUBLE",
        "fence_sold": "DOUBLE",
        "dropship_sources": "VARCHAR",
        "incoming_sources": "VARCHAR",
        "own_rule": "VARCHAR",
        "dropship_rule": "VARCHAR",
        "incoming_rule": "VARCHAR",
        "pool_rule": "VARCHAR",
        "pending_rule": "VARCHAR",
        "net_rule": "VARCHAR",
        "allocated_rule": "VARCHAR",
        "buffered_rule": "VARCHAR",
        "thresholded_rule": "VARCHAR",
        "suppressed_rule": "VARCHAR",
        "publishable_rule": "VARCHAR",
        "thresholded": "DOUBLE",
        "suppressed": "DOUBLE",
        "publishable": "BIGINT",
        "channel_uom": "VARCHAR",
        "channel_uom_units": "DOUBLE",
        "publishable_units": "DOUBLE",
    },
}

REF = re.compile(r"\{\{\s*ref\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*\)\s*\}\}")
TEST_KINDS = ("not_null", "unique", "accepted_range", "accepted_values", "expression")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Range(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> _Range:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        return self


class _Values(_Strict):
    values: tuple[str | int | float, ...] = Field(min_length=1)


class _TestSpec(_Strict):
    not_null: dict | None = None
    unique: dict | None = None
    accepted_range: _Range | None = None
    accepted_values: _Values | None = None
    expression: str | None = None
    name: str | None = None
    severity: Literal["error", "warn"] = "error"


class _ColumnSpec(_Strict):
    name: str
    description: str = ""
    tests: tuple[str | _TestSpec, ...] = ()


class _ModelSpec(_Strict):
    name: str
    description: str = ""
    # The result has one row per SKU (a `sku` column): a partial refresh reads its subset.
    sku_scoped: bool = False
    columns: tuple[_ColumnSpec, ...] = ()
    tests: tuple[_TestSpec, ...] = ()


class _ModelsFile(_Strict):
    models: tuple[_ModelSpec, ...] = ()


@dataclass(frozen=True)
class ModelTest:
    """One test of a model's result; it passes when `failing_sql` counts no rows."""

    name: str
    kind: str
    column: str | None
    params: Mapping[str, Any]
    blocking: bool
    description: str

    def failing_sql(self, table: str) -> str:
        """`SELECT count(*)` of the rows of `table` that break the test."""
        col = f'"{self.column}"' if self.column else ""
        if self.kind == "not_null":
            return f"SELECT count(*) FROM {table} WHERE {col} IS NULL"
        if self.kind == "unique":
            return (
                f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {table} "
                f"WHERE {col} IS NOT NULL GROUP BY {col} HAVING count(*) > 1)"
            )
        if self.kind == "accepted_range":
            bounds = []
            if self.params.get("min") is not None:
                bounds.append(f"{col} < {float(self.params['min'])!r}")
            if self.params.get("max") is not None:
                bounds.append(f"{col} > {float(self.params['max'])!r}")
            return f"SELECT count(*) FROM {table} WHERE {' OR '.join(bounds)}"
        if self.kind == "accepted_values":
            values = ", ".join(_sql_literal(v) for v in self.params["values"])
            return (
                f"SELECT count(*) FROM {table} WHERE {col} IS NOT NULL AND {col} NOT IN ({values})"
            )
        return (
            f"SELECT count(*) FROM {table} WHERE NOT coalesce(({self.params['expression']}), false)"
        )


def _sql_literal(value: str | int | float) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


@dataclass(frozen=True)
class SqlModel:
    """One SQL model: its text, its refs, its tests, and a version that changes with them."""

    name: str
    path: Path
    sql: str
    refs: tuple[str, ...]
    description: str = ""
    tests: tuple[ModelTest, ...] = field(default=())
    sku_scoped: bool = False

    @property
    def version(self) -> str:
        """A digest of the SQL and the tests: the asset's code version."""
        digest = hashlib.sha256(self.sql.encode())
        for test in self.tests:
            digest.update(repr((test.name, test.kind, test.column, dict(test.params))).encode())
        return digest.hexdigest()[:16]

    def render(self, relation_for: Callable[[str], str]) -> str:
        """The SQL with each `{{ ref('x') }}` replaced by `relation_for('x')`."""
        return REF.sub(lambda m: relation_for(m.group(1)), self.sql)


def _tests_of(spec: _ModelSpec) -> list[ModelTest]:
    tests: list[ModelTest] = []

    def add(column: str | None, item: str | _TestSpec, index: int) -> None:
        if isinstance(item, str):
            if item not in ("not_null", "unique"):
                raise ValueError(f"unknown test {item!r}; use one of {', '.join(TEST_KINDS)}")
            item = _TestSpec(**{item: {}})
        kinds = [k for k in TEST_KINDS if getattr(item, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a test names exactly one of {', '.join(TEST_KINDS)}")
        kind = kinds[0]
        value = getattr(item, kind)
        if kind == "expression":
            params: dict[str, Any] = {"expression": value}
        elif isinstance(value, BaseModel):
            params = value.model_dump()
        else:
            params = {}
        if kind == "expression" and column is not None:
            raise ValueError("`expression` tests belong to the model, not a column")
        if kind != "expression" and column is None:
            raise ValueError(f"`{kind}` tests belong to a column")
        name = item.name or (f"{column}__{kind}" if column else f"expression_{index}")
        tests.append(
            ModelTest(
                name=name,
                kind=kind,
                column=column,
                params=params,
                blocking=item.severity == "error",
                description=f"{kind} {params or ''}".strip(),
            )
        )

    for column in spec.columns:
        for i, item in enumerate(column.tests):
            add(column.name, item, i)
    for i, item in enumerate(spec.tests):
        add(None, item, i)
    return tests


def load_models(root: Path | str, tables: Mapping[str, Any] = TABLE_ASSETS) -> list[SqlModel]:
    """Every model of `root/models`, in dependency order; `tables`: ref names of table assets.

    Raises `RulesError` for an unknown ref, a cycle, a YAML that does not parse or validate,
    or a test of a model that does not exist.
    """
    folder = Path(root) / "models"
    if not folder.is_dir():
        return []
    issues: list[RuleIssue] = []
    sql_files = {p.stem: p for p in sorted(folder.glob("*.sql"))}
    specs: dict[str, _ModelSpec] = {}
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        rel = f"models/{path.name}"
        try:
            parsed = _ModelsFile.model_validate(strict_yaml.load(path.read_text()) or {})
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            issues.append(RuleIssue(rel, where, f"invalid YAML: {problem}", "fix the syntax"))
            continue
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(str(p) for p in error["loc"])
                issues.append(RuleIssue(rel, key, error["msg"], "correct the test declaration"))
            continue
        for i, spec in enumerate(parsed.models):
            if spec.name not in sql_files:
                issues.append(
                    RuleIssue(
                        rel,
                        f"models.{i}.name",
                        f"tests for model {spec.name!r}, which has no .sql file",
                        f"create models/{spec.name}.sql or fix the name",
                    )
                )
            specs[spec.name] = spec
    models: dict[str, SqlModel] = {}
    for name, path in sql_files.items():
        sql = path.read_text()
        refs = tuple(dict.fromkeys(REF.findall(sql)))
        for ref in refs:
            if ref not in sql_files and ref not in tables:
                known = sorted({*sql_files, *tables} - {name})
                issues.append(
                    RuleIssue(
                        f"models/{path.name}",
                        f"ref('{ref}')",
                        f"unknown model or table {ref!r}",
                        f"use one of {', '.join(known)}",
                    )
                )
        spec = specs.get(name)
        try:
            tests = tuple(_tests_of(spec)) if spec else ()
        except ValueError as exc:
            issues.append(RuleIssue("models", f"{name}.tests", str(exc), "fix the test"))
            tests = ()
        models[name] = SqlModel(
            name=name,
            path=path,
            sql=sql,
            refs=refs,
            description=spec.description if spec else "",
            tests=tests,
            sku_scoped=spec.sku_scoped if spec else False,
        )
    ordered = _topological(models, issues)
    if issues:
        raise RulesError(issues)
    return ordered


def _topological(models: dict[str, SqlModel], issues: list[RuleIssue]) -> list[SqlModel]:
    ordered: list[SqlModel] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            issues.append(
                RuleIssue(f"models/{name}.sql", "ref", f"cycle: {cycle}", "break the cycle")
            )
            return
        state[name] = "visiting"
        for ref in models[name].refs:
            if ref in models:
                visit(ref, [*trail, name])
        state[name] = "done"
        ordered.append(models[name])

    for name in sorted(models):
        visit(name, [])
    return ordered


def _relation(ref: str) -> str:
    return f'"ref__{ref}"'


_RELATION = re.compile(r'"?\bref__([A-Za-z0-9_]+)"?')
_LINE = re.compile(r"^LINE (\d+):", re.MULTILINE)
_CANDIDATES = re.compile(r"^Candidate bindings: (.+)$", re.MULTILINE)
_MEANT_REF = re.compile(r'^Did you mean "ref__([A-Za-z0-9_]+)"', re.MULTILINE)


def sql_issue(file: str, exc: Exception) -> RuleIssue:
    """A DuckDB error from a model's SQL as one issue: the file, the line, the first line of
    DuckDB's message (a relation named as it is written, `ref('x')`) and the fix."""
    text = str(exc)
    first = _RELATION.sub(r"ref('\1')", text.strip().splitlines()[0].strip() if text else "")
    line = _LINE.search(text)
    kind = type(exc).__name__
    candidates = _CANDIDATES.search(text)
    meant = _MEANT_REF.search(text)
    if kind == "ParserException":
        fix = "correct the SQL syntax"
    elif kind == "CatalogException" and meant:
        fix = f"write {{{{ ref('{meant[1]}') }}}}"
    elif kind == "CatalogException":
        fix = "read tables and other models with {{ ref('name') }}"
    elif candidates:
        known = _RELATION.sub(lambda m: m[1], candidates[1])
        fix = f"use a column the model reads, e.g. {known}"
    else:
        fix = "cast to one type, or use a column of the type the expression needs"
    return RuleIssue(file, f"line {line[1]}" if line else "", first, fix)


def bind_models(
    models: Sequence[SqlModel], tables: Mapping[str, Mapping[str, str]] = TABLE_COLUMNS
) -> list[RuleIssue]:
    """Parse and bind every model and its tests as DuckDB would run them, without any data.

    `models` in dependency order (as `load_models` returns them); `tables`: the columns (DuckDB
    types) of each table asset. Each table becomes an empty table of an in-memory DuckDB, each
    model is `EXPLAIN`ed and then made a view its dependants read, so a syntax error, an
    unknown table or column, or a type mismatch is found by `rules check`, not by a run. One
    issue per broken model; a model reading a broken one is not checked (its error is that one).
    """
    import duckdb

    issues: list[RuleIssue] = []
    unbound: set[str] = set()
    with duckdb.connect() as con:
        for name, columns in tables.items():
            typed = ", ".join(f'"{column}" {kind}' for column, kind in columns.items())
            con.execute(f"CREATE TABLE {_relation(name)} ({typed})")
        for model in models:
            if unbound.intersection(model.refs):
                unbound.add(model.name)
                continue
            file = f"models/{model.path.name}"
            sql = model.render(_relation)
            try:
                statements = con.extract_statements(sql)
                kinds = [s.type for s in statements]
                if kinds == [duckdb.StatementType.MULTI]:  # a PIVOT on values of the data
                    unbound.add(model.name)
                    continue
                if kinds != [duckdb.StatementType.SELECT]:
                    found = (
                        f"a {kinds[0].name} statement"
                        if len(kinds) == 1
                        else f"{len(kinds) or 'no'} statements"
                    )
                    issues.append(
                        RuleIssue(
                            file,
                            "",
                            f"a model is one SELECT statement, this file has {found}",
                            "keep a single SELECT (or WITH ... SELECT) in the file",
                        )
                    )
                    unbound.add(model.name)
                    continue
                # "EXPLAIN " adds no line: DuckDB's LINE numbers are the file's.
                con.execute(f"EXPLAIN {sql}")
                con.execute(f"CREATE VIEW {_relation(model.name)} AS {sql}")
            except duckdb.Error as exc:
                issues.append(sql_issue(file, exc))
                unbound.add(model.name)
                continue
            for test in model.tests:
                try:
                    con.execute(f"EXPLAIN {test.failing_sql(_relation(model.name))}")
                except duckdb.Error as exc:
                    issues.append(
                        RuleIssue(
                            "models",
                            f"{model.name}.tests.{test.name}",
                            sql_issue(file, exc).message,
                            f"test a column or expression models/{model.path.name} returns",
                        )
                    )
    return issues


def model_binding_issues(
    root: Path | str, tables: Mapping[str, Mapping[str, str]] = TABLE_COLUMNS
) -> list[RuleIssue]:
    """What `bind_models` finds in the models of `root` (none when they do not load: then
    `load_models` and `load_policy` report why)."""
    try:
        models = load_models(root, tables)
    except RulesError:
        return []
    return bind_models(models, tables)
