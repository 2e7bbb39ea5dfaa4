"""Odoo search domains: parsing, ``!`` distribution, and compilation to a row predicate.

A domain is a list in prefix notation (``['|', A, B]``, ``['!', A]``, implicit ``&`` between
consecutive terms) whose leaves are ``(path, operator, value)``. Compilation follows Odoo's
semantics: ``('f', '=', False)`` is ``IS NULL``, ``!=``/``not in``/``not like`` also match
NULL, dotted paths through relations become ``any`` sub-searches (many2one paths ignore
``active``, as Odoo's do), related fields are rewritten to their paths, ``child_of`` and
``parent_of`` walk ``parent_path``.

The result is a Python expression over a row list, evaluated once into a lambda, plus the
hints the planner uses to avoid scans: id bounds and index lookups taken from the top-level
conjunction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Env
    from .orm import Table

OPERATORS = frozenset(
    {
        "=",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "=?",
        "like",
        "not like",
        "ilike",
        "not ilike",
        "=like",
        "=ilike",
        "in",
        "not in",
        "child_of",
        "parent_of",
        "any",
        "not any",
    }
)
NEGATION = {
    "<": ">=",
    ">": "<=",
    "<=": ">",
    ">=": "<",
    "=": "!=",
    "!=": "=",
    "in": "not in",
    "not in": "in",
    "like": "not like",
    "not like": "like",
    "ilike": "not ilike",
    "not ilike": "ilike",
    "any": "not any",
    "not any": "any",
}
NEGATIVE = frozenset({"!=", "not in", "not like", "not ilike", "not any"})
LIKE_OPERATORS = frozenset({"like", "not like", "ilike", "not ilike", "=like", "=ilike"})
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)


# -- tree --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """``(path, operator, value)``."""

    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Const:
    """The TRUE or FALSE leaf."""

    value: bool


@dataclass(frozen=True)
class Not:
    """``!`` over a term that cannot be negated by swapping its operator."""

    child: Node


@dataclass(frozen=True)
class Bool:
    """``&`` (``and_=True``) or ``|`` over two or more terms."""

    and_: bool
    children: tuple[Node, ...]


Node = Leaf | Const | Not | Bool


def _invalid(term: Any) -> ValueError:
    return ValueError(f"Invalid leaf {term!r}")


def _leaf(term: Any, allow_any: bool) -> Node:
    if not isinstance(term, (list, tuple)) or len(term) != 3:
        raise _invalid(term)
    path, op, value = term
    if (path, op, value) in (TRUE_LEAF, tuple(TRUE_LEAF)):
        return Const(True)
    if (path, op, value) == FALSE_LEAF:
        return Const(False)
    if not isinstance(path, str) or not isinstance(op, str):
        raise _invalid(term)
    op = op.lower()
    op = {"<>": "!=", "==": "="}.get(op, op)
    if op not in OPERATORS or (op in ("any", "not any") and not allow_any):
        raise _invalid(term)
    if op in ("in", "not in") and not isinstance(value, (list, tuple, set, frozenset)):
        value = [value]
    return Leaf(path, op, value)


def parse(domain: Any, allow_any: bool = True) -> Node:
    """Parse a domain list into a tree; raises ``ValueError`` like Odoo on a malformed one."""
    if domain in (None, False):
        return Const(True)
    if not isinstance(domain, (list, tuple)):
        raise ValueError(f"Invalid domain: {domain!r}")
    items = list(domain)
    terms: list[Node] = []
    position = 0

    def take(i: int) -> tuple[Node, int]:
        if i >= len(items):
            raise ValueError(f"Invalid domain: {domain!r}")
        token = items[i]
        if token in ("&", "|"):
            left, j = take(i + 1)
            right, k = take(j)
            return Bool(token == "&", (left, right)), k
        if token == "!":
            child, j = take(i + 1)
            return negate(child), j
        return _leaf(token, allow_any), i + 1

    while position < len(items):
        node, position = take(position)
        terms.append(node)
    if not terms:
        return Const(True)
    return terms[0] if len(terms) == 1 else Bool(True, tuple(terms))


def negate(node: Node) -> Node:
    """Push a ``!`` down the tree the way Odoo's ``distribute_not`` does."""
    if isinstance(node, Const):
        return Const(not node.value)
    if isinstance(node, Not):
        return node.child
    if isinstance(node, Bool):
        return Bool(not node.and_, tuple(negate(child) for child in node.children))
    if node.op in NEGATION:
        return Leaf(node.path, NEGATION[node.op], node.value)
    return Not(node)


def mentions_field(node: Node, name: str) -> bool:
    """Whether any leaf of the tree names ``name`` (Odoo's test for the implicit active)."""
    if isinstance(node, Leaf):
        return node.path == name
    if isinstance(node, Not):
        return mentions_field(node.child, name)
    if isinstance(node, Bool):
        return any(mentions_field(child, name) for child in node.children)
    return False


# -- values ------------------------------------------------------------------------------------


def normalize_datetime(value: Any) -> Any:
    """Odoo's datetime literal: ``"YYYY-MM-DD HH:MM:SS"`` (a date means midnight)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d 00:00:00")
    if isinstance(value, str) and value:
        text = value.strip().replace("T", " ")
        if len(text) == 10:
            return text + " 00:00:00"
        if text.endswith("Z"):
            text = text[:-1]
        if "+" in text[10:]:
            text = text[: 10 + text[10:].index("+")]
        return text[:19]
    return value


def normalize_date(value: Any) -> Any:
    """Odoo's date literal ``"YYYY-MM-DD"``."""
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and value:
        return value.strip()[:10]
    return value


@lru_cache(maxsize=4096)
def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """A regex equivalent to SQL ``LIKE pattern`` (``%`` any run, ``_`` one character)."""
    out = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(out) + r"\Z", flags)


def like_matcher(op: str, value: Any) -> re.Pattern[str]:
    """The regex for a like-family operator and its right-hand value."""
    text = "" if value in (None, False) else str(value)
    if op in ("=like", "=ilike"):
        return like_regex(text, op == "=ilike")
    return like_regex(f"%{text}%", "ilike" in op)


# -- compilation -------------------------------------------------------------------------------


@dataclass
class Hint:
    """A way to enumerate candidate ids without scanning the model."""

    kind: str  # "index" (keys of a hash index), "range" (ordered index), "ids"
    field: str = ""
    keys: Any = None
    low: Any = None
    low_incl: bool = True
    high: Any = None
    high_incl: bool = True
    ids: list[int] | None = None


@dataclass
class Compiled:
    """A compiled domain: a predicate over rows (``None`` = all rows) and planner hints."""

    predicate: Any
    always_false: bool = False
    id_low: int | None = None
    id_low_incl: bool = True
    id_high: int | None = None
    id_high_incl: bool = True
    hints: list[Hint] = field(default_factory=list)


class _Builder:
    """Accumulates the constants a generated predicate expression refers to."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}

    def const(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name


class DomainCompiler:
    """Compiles domains for one model in one environment (context, user, version)."""

    def __init__(self, env: Env, table: Table) -> None:
        self.env = env
        self.table = table
        # sub-search results computed for a hint, reused by the predicate of the same leaf
        self._memo: dict[tuple[str, int], frozenset[int]] = {}

    def compile(self, node: Node) -> Compiled:
        """Compile a parsed domain; the top-level conjunction feeds the planner's hints."""
        builder = _Builder()
        result = Compiled(predicate=None)
        conjuncts = list(node.children) if isinstance(node, Bool) and node.and_ else [node]
        expressions: list[str] = []
        for term in conjuncts:
            if isinstance(term, Leaf):
                term = self._rewrite(term)
                self._hint(term, result)
            expr = self._expr(term, builder)
            if expr == "False":
                result.always_false = True
                return result
            if expr != "True":
                expressions.append(expr)
        if expressions:
            source = "lambda r: " + " and ".join(expressions)
            result.predicate = eval(source, builder.namespace)
        return result

    def _rewrite(self, leaf: Leaf) -> Leaf:
        """Related fields become their paths, dotted paths become ``any`` on the first hop."""
        table = self.table
        for _ in range(8):
            head, _, rest = leaf.path.partition(".")
            f = table.fields.get(head)
            if f is None:
                return leaf
            if f.related:
                leaf = Leaf(f.related + ("." + rest if rest else ""), leaf.op, leaf.value)
                continue
            if rest and f.type in ("many2one", "one2many", "many2many"):
                return Leaf(head, "any", [(rest, leaf.op, leaf.value)])
            return leaf
        return leaf

    # -- hints ------------------------------------------------------------------------------

    def _hint(self, leaf: Leaf, result: Compiled) -> None:
        table = self.table
        if leaf.path == "id":
            value = leaf.value
            if leaf.op in (">", ">=") and isinstance(value, int):
                incl = leaf.op == ">="
                if result.id_low is None or value > result.id_low:
                    result.id_low, result.id_low_incl = value, incl
            elif leaf.op in ("<", "<=") and isinstance(value, int):
                incl = leaf.op == "<="
                if result.id_high is None or value < result.id_high:
                    result.id_high, result.id_high_incl = value, incl
            elif leaf.op == "=" and isinstance(value, int) and not isinstance(value, bool):
                result.hints.append(Hint("ids", ids=[value]))
            elif leaf.op == "in":
                ids = sorted({v for v in value if isinstance(v, int) and v is not True})
                result.hints.append(Hint("ids", ids=ids))
            return
        f = table.fields.get(leaf.path)
        if f is None or not f.store or leaf.path not in table.indexes:
            return
        index = table.indexes[leaf.path]
        value = leaf.value
        if f.type == "datetime":
            value = normalize_datetime(value) if not isinstance(value, list) else value
        if leaf.op == "=" and not isinstance(value, (list, tuple, dict)):
            if f.type == "many2one" and isinstance(value, str):
                return
            keys = [False] if value in (False, None) else [value]
            result.hints.append(Hint("index", leaf.path, keys=keys))
        elif leaf.op == "in":
            if f.type == "many2one" and any(isinstance(v, str) for v in value):
                return
            keys = {False if v is None else v for v in value}
            if f.type == "datetime":
                keys = {normalize_datetime(v) for v in keys}
            result.hints.append(Hint("index", leaf.path, keys=keys))
        elif (
            leaf.op in (">", ">=", "<", "<=")
            and index.keys is not None
            and value
            not in (
                False,
                None,
            )
        ):
            if leaf.op in (">", ">="):
                result.hints.append(Hint("range", leaf.path, low=value, low_incl=leaf.op == ">="))
            else:
                result.hints.append(Hint("range", leaf.path, high=value, high_incl=leaf.op == "<="))
        elif leaf.op == "any" and f.type == "many2one":
            keys = self._subsearch(f.relation, leaf.value, many2one=True)
            # remembered so that _expr reuses the same sub-search
            result.hints.append(Hint("index", leaf.path, keys=keys))
            self._memo[(leaf.path, id(leaf.value))] = keys

    # -- expressions ------------------------------------------------------------------------

    def _expr(self, node: Node, builder: _Builder) -> str:
        if isinstance(node, Const):
            return "True" if node.value else "False"
        if isinstance(node, Not):
            inner = self._expr(node.child, builder)
            return {"True": "False", "False": "True"}.get(inner, f"(not {inner})")
        if isinstance(node, Bool):
            parts = [self._expr(child, builder) for child in node.children]
            if node.and_:
                if "False" in parts:
                    return "False"
                parts = [p for p in parts if p != "True"]
                return "(" + " and ".join(parts) + ")" if parts else "True"
            if "True" in parts:
                return "True"
            parts = [p for p in parts if p != "False"]
            return "(" + " or ".join(parts) + ")" if parts else "False"
        return self._leaf_expr(self.table, node, builder)

    def _leaf_expr(self, table: Table, leaf: Leaf, builder: _Builder) -> str:
        path, op, value = leaf.path, leaf.op, leaf.value
        head, _, rest = path.partition(".")
        f = table.fields.get(head)
        if f is None:
            raise ValueError(f"Invalid field {table.name}.{head} in leaf {(path, op, value)!r}")
        if rest:
            if f.type not in ("many2one", "one2many", "many2many"):
                raise ValueError(f"Invalid field {table.name}.{path} in leaf {(path, op, value)!r}")
            return self._leaf_expr(table, Leaf(head, "any", [(rest, op, value)]), builder)
        if f.related:
            return self._leaf_expr(table, Leaf(f.related, op, value), builder)
        if op in ("child_of", "parent_of"):
            target = table if head == "id" else self.env.state.tables[f.relation or table.name]
            ids = self._hierarchy(target, op, value)
            x = "r[0]" if head == "id" else f"r[{f.pos}]"
            return f"({x} in {builder.const(ids)})"
        if head == "id":
            return self._scalar_expr("r[0]", "integer", op, value, builder)
        if not f.store:
            if f.type == "one2many":
                return self._x2many_expr(f, op, value, builder)
            if f.search is None:
                raise ValueError(f"Non-stored field {table.name}.{head} cannot be searched.")
            ids = set(f.search(self.env, op, value))
            return f"(r[0] in {builder.const(ids)})"
        x = f"r[{f.pos}]"
        if op in ("any", "not any"):
            if f.type == "many2one":
                keys = self._memo.get((head, id(value)))
                if keys is None:
                    keys = self._subsearch(f.relation, value, many2one=True)
                name = builder.const(keys)
                return f"({x} in {name})" if op == "any" else f"({x} not in {name})"
            if f.type == "many2many":
                keys = self._subsearch(f.relation, value, many2one=False)
                name = builder.const(keys)
                test = f"any(v in {name} for v in {x})"
                return f"({test})" if op == "any" else f"(not {test})"
            raise ValueError(f"Invalid leaf {(path, op, value)!r}")
        if (
            f.type == "many2one"
            and self._is_name_value(value)
            and op
            not in (
                ">",
                ">=",
                "<",
                "<=",
                "=?",
            )
        ):
            return self._many2one_name_expr(f, x, op, value, builder)
        if f.type == "many2many":
            return self._many2many_expr(x, op, value, builder)
        return self._scalar_expr(x, f.type, op, value, builder)

    @staticmethod
    def _is_name_value(value: Any) -> bool:
        if isinstance(value, str):
            return True
        return (
            isinstance(value, (list, tuple))
            and bool(value)
            and all(isinstance(v, str) for v in value)
        )

    def _scalar_expr(self, x: str, ftype: str, op: str, value: Any, builder: _Builder) -> str:
        if op == "=?":
            if value in (None, False):
                return "True"
            op = "="
        if ftype == "datetime":
            value = (
                [normalize_datetime(v) for v in value]
                if isinstance(value, (list, tuple, set, frozenset))
                else normalize_datetime(value)
            )
        elif ftype == "date":
            value = (
                [normalize_date(v) for v in value]
                if isinstance(value, (list, tuple, set, frozenset))
                else normalize_date(value)
            )
        numeric = ftype in ("integer", "float", "monetary")
        null_test = f"({x} is None)" if numeric else f"(not {x})"
        if op in ("=", "!="):
            if value is None or value is False:
                if ftype == "boolean":
                    return f"(not {x})" if op == "=" else f"bool({x})"
                return null_test if op == "=" else f"(not {null_test})"
            c = builder.const(value)
            if ftype == "boolean":
                return f"(bool({x}) == {c})" if op == "=" else f"(bool({x}) != {c})"
            return f"({x} == {c})" if op == "=" else f"({x} != {c})"
        if op in ("in", "not in"):
            values = list(value)
            has_null = any(v is None or v is False for v in values) and ftype != "boolean"
            if ftype == "boolean":
                keys = {bool(v) for v in values}
                c = builder.const(frozenset(keys))
                return f"(bool({x}) in {c})" if op == "in" else f"(bool({x}) not in {c})"
            keys = frozenset(v for v in values if v is not None and v is not False)
            c = builder.const(keys)
            if op == "in":
                return f"({x} in {c} or {null_test})" if has_null else f"({x} in {c})"
            if has_null:
                return f"({x} not in {c} and not {null_test})"
            return f"({x} not in {c})"
        if op in (">", ">=", "<", "<="):
            if value is None or value is False:
                return "False"
            c = builder.const(value)
            if numeric:
                return f"({x} {op} {c})"
            return f"({x} is not False and {x} is not None and {x} {op} {c})"
        if op in LIKE_OPERATORS:
            regex = builder.const(like_matcher(op, value))
            as_text = f"{x}" if not numeric and ftype != "boolean" else f"str({x})"
            positive = (
                f"({x} is not False and {x} is not None and {regex}.match({as_text}) is not None)"
            )
            if op.startswith("not"):
                return f"(not {positive})"
            return positive
        raise ValueError(f"Invalid leaf {(x, op, value)!r}")

    def _many2one_name_expr(self, f: Any, x: str, op: str, value: Any, builder: _Builder) -> str:
        comodel = self.env.state.tables[f.relation]
        positive = op[4:] if op.startswith("not ") else {"!=": "="}.get(op, op)
        names = value if isinstance(value, (list, tuple)) else [value]
        matched: set[int] = set()
        for name in names:
            matcher = None if positive in ("=", "in") else like_matcher(positive, name)
            for rid in comodel.ids:
                display = comodel.display_name_of(rid)
                if matcher is None:
                    if display == name:
                        matched.add(rid)
                elif matcher.match(display):
                    matched.add(rid)
        c = builder.const(frozenset(matched))
        if op in NEGATIVE:
            return f"({x} not in {c})"
        return f"({x} in {c})"

    def _many2many_expr(self, x: str, op: str, value: Any, builder: _Builder) -> str:
        if op in ("in", "="):
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            if op == "=" and value in (False, None):
                return f"(not {x})"
            c = builder.const(frozenset(values))
            return f"any(v in {c} for v in {x})"
        if op in ("not in", "!="):
            if op == "!=" and value in (False, None):
                return f"bool({x})"
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            c = builder.const(frozenset(values))
            return f"(not any(v in {c} for v in {x}))"
        raise ValueError(f"Invalid leaf {(x, op, value)!r}")

    def _x2many_expr(self, f: Any, op: str, value: Any, builder: _Builder) -> str:
        """A one2many leaf: the parents whose children match (or whose ids are given)."""
        comodel = self.env.state.tables[f.relation]
        inverse_pos = comodel.pos[f.inverse]
        if op in ("any", "not any"):
            children = self._subsearch(f.relation, value, many2one=False)
            parents = {comodel.records[c][inverse_pos] for c in children}
            c = builder.const(frozenset(parents))
            return f"(r[0] in {c})" if op == "any" else f"(r[0] not in {c})"
        if op in ("=", "!=") and value in (False, None):
            parents = {row[inverse_pos] for row in comodel.records.values()}
            c = builder.const(frozenset(parents))
            return f"(r[0] not in {c})" if op == "=" else f"(r[0] in {c})"
        if op in ("in", "=", "not in", "!="):
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            parents = {comodel.records[v][inverse_pos] for v in values if v in comodel.records}
            c = builder.const(frozenset(parents))
            return f"(r[0] in {c})" if op in ("in", "=") else f"(r[0] not in {c})"
        raise ValueError(f"Invalid leaf {(f.name, op, value)!r}")

    def _subsearch(self, model: str | None, domain: Any, many2one: bool) -> frozenset[int]:
        """Ids of ``model`` matching ``domain`` (many2one paths ignore ``active``)."""
        assert model is not None
        env = self.env
        if many2one:
            env = env.with_context(active_test=False)
        subtree = domain if isinstance(domain, (Leaf, Bool, Not, Const)) else parse(domain)
        return frozenset(env.state.search_ids(env.for_model(model), subtree))

    def _hierarchy(self, table: Table, op: str, value: Any) -> frozenset[int]:
        """``child_of``: the given records and their descendants; ``parent_of``: ancestors."""
        values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        roots: set[int] = set()
        for v in values:
            if isinstance(v, str):
                roots.update(rid for rid in table.ids if table.display_name_of(rid) == v)
            elif isinstance(v, int) and v in table.records:
                roots.add(v)
        parent_name = table.parent_name
        if not parent_name:
            return frozenset(roots)
        parent_pos = table.pos[parent_name]
        if op == "parent_of":
            found: set[int] = set()
            for rid in roots:
                current: Any = rid
                while current and current not in found:
                    found.add(current)
                    row = table.records.get(current)
                    current = row[parent_pos] if row else False
            return frozenset(found)
        path_pos = table.pos.get("parent_path")
        if path_pos is not None:
            prefixes = tuple(
                table.records[rid][path_pos] for rid in roots if table.records[rid][path_pos]
            )
            if not prefixes:
                return frozenset(roots)
            return (
                frozenset(
                    rid
                    for rid, row in table.records.items()
                    if row[path_pos] and row[path_pos].startswith(prefixes)
                )
                | roots
            )
        children: dict[int, list[int]] = {}
        for rid, row in table.records.items():
            if row[parent_pos]:
                children.setdefault(row[parent_pos], []).append(rid)
        found = set()
        stack = list(roots)
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(children.get(current, ()))
        return frozenset(found)
