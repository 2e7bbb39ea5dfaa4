"""The public model methods callable over the API, with Odoo's signatures per version.

Each method is a function ``(env, *args, **kwargs)``; ``env.ids`` holds the records for record
methods (``read``, ``write``, ``action_confirm``...), and is empty for ``@api.model`` methods
(``search``, ``create``, ``fields_get``...). The parameter names are Odoo's: JSON-2 binds named
arguments to them and ``/doc-bearer/<model>.json`` publishes them, in order, for clients such as
odoo-client-lib that turn positional arguments into named ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import domain as dom
from . import purchase, rules
from .access import check_mode
from .errors import AccessError, UserError
from .models import Env
from .versions import VersionProfile


@dataclass(frozen=True)
class Method:
    """A public method: its function and the decorators that matter to RPC."""

    name: str
    func: Callable[..., Any]
    model_api: bool
    readonly: bool
    models: frozenset[str] | None
    min_version: int
    max_version: int
    deprecated: bool

    def parameters(self) -> dict[str, dict[str, Any]]:
        """The ``parameters`` entry of ``/doc-bearer`` (Odoo's ``api_doc`` format)."""
        out: dict[str, dict[str, Any]] = {}
        params = list(inspect.signature(self.func).parameters.values())[1:]
        for param in params:
            info: dict[str, Any] = {}
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                info["kind"] = "VAR_KEYWORD"
            elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                info["kind"] = "VAR_POSITIONAL"
            if param.default is not inspect.Parameter.empty:
                default = param.default
                info["default"] = list(default) if isinstance(default, tuple) else default
            out[param.name] = info
        return out

    @property
    def api(self) -> list[str]:
        """The ``api`` entry of ``/doc-bearer`` (``model``, ``readonly``)."""
        api = []
        if self.model_api:
            api.append("model")
        if self.readonly:
            api.append("readonly")
        return api


_REGISTRY: dict[str, list[Method]] = {}


def rpc(
    name: str,
    *,
    model_api: bool = False,
    readonly: bool = False,
    models: tuple[str, ...] | None = None,
    min_version: int = 16,
    max_version: int = 99,
    deprecated: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as the public method ``name``."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        spec = Method(
            name,
            func,
            model_api,
            readonly,
            frozenset(models) if models else None,
            min_version,
            max_version,
            deprecated,
        )
        # model-specific methods win over generic ones
        entries = _REGISTRY.setdefault(name, [])
        entries.insert(0 if models else len(entries), spec)
        return func

    return decorator


def find_method(profile: VersionProfile, model: str, name: str) -> Method | None:
    """The method ``name`` of ``model`` in this version, if public and present."""
    for spec in _REGISTRY.get(name, ()):
        if spec.models is not None and model not in spec.models:
            continue
        if spec.min_version <= profile.major <= spec.max_version:
            return spec
    return None


def public_methods(profile: VersionProfile, model: str) -> dict[str, Method]:
    """Every public method of a model in this version, by name."""
    out = {}
    for name in sorted(_REGISTRY):
        spec = find_method(profile, model, name)
        if spec is not None:
            out[name] = spec
    return out


# -- the ORM --------------------------------------------------------------------------------------


@rpc("search", model_api=True, readonly=True)
def search(
    env: Env,
    domain: Any,
    offset: int = 0,
    limit: int | None = None,
    order: str | None = None,
    count: bool = False,
) -> Any:
    """Ids of the matching records (``count=True``, 16 only, returns their number)."""
    if count:
        if env.state.profile.major > 16:
            raise TypeError("search() got an unexpected keyword argument 'count'")
        return env.state.count(env, domain)
    return env.state.search_ids(env, domain, offset, limit, order)


@rpc("search_read", model_api=True, readonly=True)
def search_read(
    env: Env,
    domain: Any = None,
    fields: Any = None,
    offset: int = 0,
    limit: int | None = None,
    order: str | None = None,
    **read_kwargs: Any,
) -> list[dict[str, Any]]:
    """``search`` then ``read`` in one call."""
    state = env.state
    ids = state.search_ids(env, domain or [], offset, limit, order)
    records = env.table.records
    return state.read_rows(
        env, [records[rid] for rid in ids], fields, read_kwargs.get("load", "_classic_read")
    )


@rpc("search_count", model_api=True, readonly=True)
def search_count(env: Env, domain: Any, limit: int | None = None) -> int:
    """How many records match (at most ``limit``)."""
    return env.state.count(env, domain, limit)


@rpc("read", readonly=True)
def read(env: Env, fields: Any = None, load: str | None = "_classic_read") -> list[dict[str, Any]]:
    """The field values of the records; records that no longer exist are left out."""
    records = env.table.records
    rows = [records[rid] for rid in dict.fromkeys(env.ids) if rid in records]
    return env.state.read_rows(env, rows, fields, load)


@rpc("create", model_api=True)
def create(env: Env, vals_list: Any) -> Any:
    """Create one record (a dict gives an id) or several (a list gives a list of ids)."""
    if isinstance(vals_list, dict):
        return env.state.create(env, vals_list)
    if not isinstance(vals_list, (list, tuple)):
        raise ValueError(f"Invalid values for create: {vals_list!r}")
    return [env.state.create(env, vals) for vals in vals_list]


@rpc("write")
def write(env: Env, vals: dict[str, Any]) -> bool:
    """Write the values on the records."""
    if not isinstance(vals, dict):
        raise ValueError(f"Invalid values for write: {vals!r}")
    return env.state.write(env, vals)


@rpc("unlink")
def unlink(env: Env) -> bool:
    """Delete the records."""
    return env.state.unlink(env)


@rpc("exists", readonly=True)
def exists(env: Env) -> list[int]:
    """The subset of the ids that still exist."""
    records = env.table.records
    return [rid for rid in env.ids if rid in records]


@rpc("fields_get", model_api=True, readonly=True)
def fields_get(env: Env, allfields: Any = None, attributes: Any = None) -> dict[str, Any]:
    """The description of the model's fields, as odoorpc builds its classes from."""
    table = env.table
    out = {}
    for name, f in table.fields.items():
        if allfields and name not in allfields:
            continue
        info = f.describe()
        if name == "id":
            info.update(readonly=True, store=True, searchable=True, sortable=True)
        if attributes:
            info = {key: value for key, value in info.items() if key in attributes}
        out[name] = info
    return out


@rpc("name_search", model_api=True, readonly=True, max_version=16)
def name_search_16(
    env: Env, name: str = "", args: Any = None, operator: str = "ilike", limit: int = 100
) -> list[list[Any]]:
    """``[[id, display_name], ...]`` of records whose name matches."""
    return _name_search(env, name, args, operator, limit)


@rpc("name_search", model_api=True, readonly=True, min_version=17)
def name_search(
    env: Env, name: str = "", domain: Any = None, operator: str = "ilike", limit: int = 100
) -> list[list[Any]]:
    """``[[id, display_name], ...]`` of records whose name matches."""
    return _name_search(env, name, domain, operator, limit)


def _name_search(env: Env, name: str, domain: Any, operator: str, limit: int) -> list[list[Any]]:
    table = env.table
    ids = env.state.search_ids(env, domain or [])
    if name:
        matcher = dom.like_matcher(operator if operator in dom.LIKE_OPERATORS else "ilike", name)
        if operator == "=":
            ids = [rid for rid in ids if table.display_name_of(rid) == name]
        else:
            ids = [rid for rid in ids if matcher.match(table.display_name_of(rid))]
    if limit:
        ids = ids[:limit]
    return [[rid, table.display_name_of(rid)] for rid in ids]


@rpc("name_get", readonly=True, max_version=16)
def name_get(env: Env) -> list[list[Any]]:
    """``[[id, display_name], ...]`` (removed in 17)."""
    table = env.table
    return [[rid, table.display_name_of(rid)] for rid in env.ids if rid in table.records]


@rpc("default_get", model_api=True, max_version=18)
def default_get_legacy(env: Env, fields_list: Any) -> dict[str, Any]:
    """Default values of the given fields."""
    return _default_get(env, fields_list)


@rpc("default_get", model_api=True, min_version=19)
def default_get(env: Env, fields: Any) -> dict[str, Any]:
    """Default values of the given fields."""
    return _default_get(env, fields)


def _default_get(env: Env, fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields or ():
        f = env.table.fields.get(name)
        if f is None or f.default is None:
            continue
        value = f.default(env.state) if callable(f.default) else f.default
        out[name] = list(value) if isinstance(value, tuple) else value
    if "company_id" in (fields or ()) and "company_id" in env.table.fields:
        out["company_id"] = 1
    return out


# -- grouping -------------------------------------------------------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _parse_groupby(env: Env, spec: str) -> tuple[str, str | None]:
    name, _, granularity = spec.partition(":")
    f = env.table.fields.get(name)
    if f is None:
        raise ValueError(f"Invalid field {name!r} on model {env.model!r}")
    if not f.store and not f.related:
        raise ValueError(
            f"Field {f.name!r} is not a stored field, only stored fields "
            "(regular or many2many) are valid for the 'groupby' parameter"
        )
    if f.type in ("date", "datetime"):
        return name, granularity or "month"
    return name, None


def _date_bucket(value: Any, granularity: str) -> tuple[str, str, str] | None:
    """(label, start, end) of the bucket holding ``value`` (Odoo's date groups)."""
    if not value:
        return None
    moment = datetime.strptime(value[:10], "%Y-%m-%d")
    if granularity == "day":
        start = moment
        end = start + timedelta(days=1)
        label = start.strftime("%d %b %Y")
    elif granularity == "week":
        start = moment - timedelta(days=moment.weekday())
        end = start + timedelta(days=7)
        label = f"W{start.isocalendar()[1]:02d} {start.isocalendar()[0]}"
    elif granularity == "quarter":
        quarter = (moment.month - 1) // 3
        start = moment.replace(month=quarter * 3 + 1, day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if quarter == 3
            else start.replace(month=quarter * 3 + 4)
        )
        label = f"Q{quarter + 1} {start.year}"
    elif granularity == "year":
        start = moment.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
        label = str(start.year)
    else:
        start = moment.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        label = f"{_MONTHS[start.month - 1]} {start.year}"
    fmt = "%Y-%m-%d %H:%M:%S" if len(value) > 10 else "%Y-%m-%d"
    return label, start.strftime(fmt), end.strftime(fmt)


def _aggregate(func: str, values: list[Any]) -> Any:
    if func == "sum":
        return round(sum(v or 0 for v in values), 6) + 0 if values else 0
    if func == "min":
        return min(values) if values else False
    if func == "max":
        return max(values) if values else False
    if func == "avg":
        return sum(values) / len(values) if values else 0
    if func == "count":
        return len(values)
    if func == "count_distinct":
        return len(set(values))
    if func == "bool_and":
        return all(values)
    if func == "bool_or":
        return any(values)
    if func == "array_agg":
        return list(values)
    raise ValueError(f"Invalid aggregation function {func!r}.")


def _group_rows(
    env: Env, domain: Any, groupby: list[tuple[str, str | None]]
) -> dict[tuple, list[list]]:
    state = env.state
    table = env.table
    records = table.records
    getters = []
    for name, granularity in groupby:
        f = table.fields[name]
        if f.related:
            getter = state._related_getter(table, f.related)
        else:
            pos = f.pos if name != "id" else 0

            def getter(row: list, pos: int = pos) -> Any:
                return row[pos]

        if granularity:

            def bucket(row: list, getter: Any = getter, granularity: str = granularity) -> Any:
                return _date_bucket(getter(row), granularity)

            getters.append(bucket)
        else:
            getters.append(getter)
    groups: dict[tuple, list[list]] = {}
    for rid in state.search_ids(env, domain or []):
        row = records[rid]
        key = tuple(g(row) for g in getters)
        groups.setdefault(key, []).append(row)
    return groups


def _format_group_value(env: Env, name: str, granularity: str | None, value: Any) -> Any:
    table = env.table
    f = table.fields[name]
    target = env.state._related_field(table, f.related) if f.related else f
    if granularity:
        return value[0] if value else False
    if target.type == "many2one":
        if not value:
            return False
        return [value, env.state.tables[target.relation or ""].display_name_of(value)]
    return value


def _group_domain(name: str, granularity: str | None, value: Any) -> list[Any]:
    if granularity:
        if not value:
            return [(name, "=", False)]
        return ["&", (name, ">=", value[1]), (name, "<", value[2])]
    return [(name, "=", value)]


def _value_getter(env: Env, name: str) -> Callable[[list], Any]:
    table = env.table
    f = table.fields.get(name)
    if f is None:
        raise ValueError(f"Invalid field {name!r} on model {env.model!r}")
    if f.related:
        return env.state._related_getter(table, f.related)
    if not f.store:
        raise ValueError(f"Cannot aggregate field {name!r}: it is not stored.")
    pos = f.pos
    return lambda row: row[pos]


def _sort_groups(groups: list[dict[str, Any]], order: str | None, defaults: list[str]) -> None:
    terms = []
    for part in (order or "").split(","):
        part = part.strip()
        if part:
            bits = part.split()
            terms.append((bits[0], len(bits) > 1 and bits[1].lower() == "desc"))
    if not terms:
        terms = [(name, False) for name in defaults]
    for key, descending in reversed(terms):

        def sort_key(group: dict[str, Any], key: str = key) -> Any:
            value = group.get(key)
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int):
                value = value[1]
            if value is None or value is False:
                return (1, "")
            return (0, value)

        groups.sort(key=sort_key, reverse=descending)


@rpc("read_group", model_api=True, readonly=True)
def read_group(
    env: Env,
    domain: Any,
    fields: Any,
    groupby: Any,
    offset: int = 0,
    limit: int | None = None,
    orderby: Any = False,
    lazy: bool = True,
) -> list[dict[str, Any]]:
    """Odoo's grouping up to 18 (deprecated but present on 19)."""
    specs = [groupby] if isinstance(groupby, str) else list(groupby or [])
    parsed = [_parse_groupby(env, spec) for spec in specs]
    used = parsed[:1] if lazy else parsed
    group_names = {name for name, _ in used}
    aggregates: list[tuple[str, str, Callable[[list], Any]]] = []
    for spec in fields or ():
        if spec == "__count":
            continue
        alias, _, rest = spec.partition(":")
        if "(" in rest:
            func, _, source = rest.partition("(")
            source = source.rstrip(")")
        else:
            source = alias
            func = rest
        if alias in group_names or source.split(":")[0] in group_names:
            continue
        f = env.table.fields.get(source)
        if f is None:
            raise ValueError(f"Invalid field {source!r} on model {env.model!r}")
        if not func:
            if f.type not in ("integer", "float", "monetary") or f.aggregator in (None, "none"):
                continue
            func = f.aggregator
        if not f.store and not f.related:
            continue
        aggregates.append((alias, func, _value_getter(env, source)))
    groups = _group_rows(env, domain, used)
    count_key = f"{specs[0].split(':')[0]}_count" if lazy and specs else "__count"
    out = []
    base_domain = list(domain or [])
    for key, rows in groups.items():
        group: dict[str, Any] = {}
        extra: list[Any] = []
        for (name, granularity), value in zip(used, key, strict=True):
            label = name if not granularity else f"{name}:{granularity}"
            group[label] = _format_group_value(env, name, granularity, value)
            extra += _group_domain(name, granularity, value)
            if granularity and value:
                group.setdefault("__range", {})[label] = {"from": value[1], "to": value[2]}
        group[count_key] = len(rows)
        for alias, func, getter in aggregates:
            group[alias] = _aggregate(func, [getter(row) for row in rows])
        group["__domain"] = extra + base_domain
        if lazy and len(specs) > 1:
            group["__context"] = {"group_by": specs[1:]}
        out.append(group)
    default_order = [name if not g else f"{name}:{g}" for name, g in used]
    _sort_groups(out, orderby or None, default_order)
    end = offset + limit if limit else None
    return out[offset or 0 : end]


@rpc("formatted_read_group", model_api=True, readonly=True, min_version=19)
def formatted_read_group(
    env: Env,
    domain: Any,
    groupby: Any = (),
    aggregates: Any = (),
    having: Any = (),
    offset: int = 0,
    limit: int | None = None,
    order: str | None = None,
) -> list[dict[str, Any]]:
    """Odoo 19's grouping: ``aggregates=["quantity:sum", "__count"]``, ``__extra_domain``."""
    specs = [groupby] if isinstance(groupby, str) else list(groupby or [])
    parsed = [_parse_groupby(env, spec) for spec in specs]
    computations: list[tuple[str, str, Callable[[list], Any] | None]] = []
    for spec in aggregates or ():
        if spec == "__count":
            computations.append((spec, "count", None))
            continue
        source, _, func = spec.partition(":")
        if not func:
            raise ValueError(f"Invalid aggregate {spec!r}: use 'field:function' or '__count'.")
        computations.append((spec, func, _value_getter(env, source)))
    groups = _group_rows(env, domain, parsed)
    out = []
    for key, rows in groups.items():
        group: dict[str, Any] = {}
        extra: list[Any] = []
        for (name, granularity), value in zip(parsed, key, strict=True):
            label = name if not granularity else f"{name}:{granularity}"
            if granularity:
                group[label] = [value[1], value[0]] if value else False
            else:
                group[label] = _format_group_value(env, name, None, value)
            extra += _group_domain(name, granularity, value)
        for spec, func, getter in computations:
            group[spec] = (
                len(rows) if getter is None else _aggregate(func, [getter(row) for row in rows])
            )
        group["__extra_domain"] = extra
        out.append(group)
    if having:
        test = _having_test(having)
        out = [group for group in out if test(group)]
    default_order = [name if not g else f"{name}:{g}" for name, g in parsed]
    _sort_groups(out, order, default_order)
    end = offset + limit if limit else None
    return out[offset or 0 : end]


def _having_test(having: Any) -> Callable[[dict[str, Any]], bool]:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "in": lambda a, b: a in b,
        "not in": lambda a, b: a not in b,
    }
    leaves = [term for term in having if isinstance(term, (list, tuple))]
    for _key, op, _value in leaves:
        if op not in ops:
            raise ValueError(f"Invalid having operator {op!r}")
    return lambda group: all(ops[op](group.get(key), value) for key, op, value in leaves)


# -- access rights --------------------------------------------------------------------------------


def _has_right(env: Env, operation: Any) -> bool:
    check_mode(str(operation))
    return env.state.access.allowed(env.uid, env.model, str(operation))


def _access_rights(env: Env, operation: Any, raise_exception: Any) -> bool:
    allowed = _has_right(env, operation)
    if not allowed and raise_exception:
        env.state.access.check(env.uid, env.model, env.table.description, operation)
    return allowed


@rpc("check_access_rights", model_api=True, readonly=True, max_version=17)
def check_access_rights(env: Env, operation: Any, raise_exception: Any = True) -> bool:
    """Whether the user has ``operation`` (read, write, create, unlink) on the model
    (``ir.model.access``); ``AccessError`` instead of ``False`` when ``raise_exception``."""
    return _access_rights(env, operation, raise_exception)


@rpc("check_access_rights", model_api=True, readonly=True, min_version=18, deprecated=True)
def check_access_rights_18(env: Env, operation: Any, raise_exception: Any = True) -> bool:
    """As up to 17, deprecated since 18.0 for ``check_access`` and ``has_access``."""
    return _access_rights(env, operation, raise_exception)


@rpc("has_access", readonly=True, min_version=18)
def has_access(env: Env, operation: Any) -> bool:
    """Whether the user may do ``operation`` on the records (18+; the model's rights, for no
    records)."""
    return _has_right(env, operation)


@rpc("check_access", readonly=True, min_version=18)
def check_access(env: Env, operation: Any) -> None:
    """``AccessError`` unless the user may do ``operation`` on the records (18+)."""
    _access_rights(env, operation, True)


# -- model-specific methods ---------------------------------------------------------------


@rpc("context_get", model_api=True, readonly=True, models=("res.users",))
def context_get(env: Env) -> dict[str, Any]:
    """The user's context: ``{lang, tz, uid}``."""
    users = env.state.tables["res.users"]
    row = users.records[env.uid]
    return {"lang": row[users.pos["lang"]], "tz": row[users.pos["tz"]], "uid": env.uid}


@rpc("action_confirm", models=("sale.order",))
def action_confirm(env: Env) -> bool:
    """Confirm quotations: delivery picking, stock moves, reservations."""
    return rules.confirm_orders(env)


@rpc("action_cancel", models=("sale.order",))
def action_cancel(env: Env) -> Any:
    """Cancel orders, or return the ``sale.order.cancel`` wizard for confirmed ones."""
    return rules.cancel_action(env)


@rpc("action_draft", models=("sale.order",))
def action_draft(env: Env) -> bool:
    """Set cancelled or sent orders back to quotation."""
    state = env.state
    orders = state.tables["sale.order"]
    for row in state.rows(env):
        if row[orders.pos["state"]] in ("cancel", "sent"):
            state.touch("sale.order", row, {"state": "draft"}, env.uid)
    return True


@rpc("action_lock", models=("sale.order",), min_version=17)
def action_lock(env: Env) -> bool:
    """Lock confirmed orders (17+)."""
    for row in env.state.rows(env):
        env.state.touch("sale.order", row, {"locked": True}, env.uid)
    return True


@rpc("action_unlock", models=("sale.order",), min_version=17)
def action_unlock(env: Env) -> bool:
    """Unlock orders (17+)."""
    for row in env.state.rows(env):
        env.state.touch("sale.order", row, {"locked": False}, env.uid)
    return True


@rpc("action_done", models=("sale.order",), max_version=16)
def action_done(env: Env) -> bool:
    """Lock confirmed orders: state ``done`` (16)."""
    state = env.state
    for row in state.rows(env):
        if row[state.tables["sale.order"].pos["state"]] == "sale":
            state.touch("sale.order", row, {"state": "done"}, env.uid)
    return True


@rpc("action_unlock", models=("sale.order",), max_version=16)
def action_unlock_16(env: Env) -> bool:
    """Unlock orders: back to ``sale`` (16)."""
    state = env.state
    for row in state.rows(env):
        if row[state.tables["sale.order"].pos["state"]] == "done":
            state.touch("sale.order", row, {"state": "sale"}, env.uid)
    return True


@rpc("action_cancel", models=("sale.order.cancel",))
def cancel_wizard_confirm(env: Env) -> bool:
    """The wizard's button: cancel its order without asking again."""
    state = env.state
    wizards = state.tables["sale.order.cancel"]
    order_ids = [row[wizards.pos["order_id"]] for row in state.rows(env)]
    order_env = env.for_model("sale.order", order_ids).with_context(disable_cancel_warning=True)
    return rules.cancel_orders(order_env)


@rpc("action_cancel", models=("stock.picking",))
def picking_action_cancel(env: Env) -> bool:
    """Cancel pickings and release their reservations."""
    state = env.state
    moves = state.tables["stock.move"]
    pickings = state.tables["stock.picking"]
    for row in state.rows(env):
        rules.cancel_moves(state, list(moves.indexes["picking_id"].map.get(row[0], ())))
        if row[pickings.pos["state"]] != "cancel":
            state.touch("stock.picking", row, {"state": "cancel"}, env.uid)
        if row[pickings.pos["purchase_id"]]:
            purchase.refresh_receipt_status(state, row[pickings.pos["purchase_id"]])
    return True


@rpc("create_returns", models=("stock.return.picking",), max_version=17)
def create_returns(env: Env) -> dict[str, Any]:
    """The return wizard's button (up to 17): a return transfer; its window action."""
    return rules.create_return(env)


@rpc("action_create_returns", models=("stock.return.picking",), min_version=18)
def action_create_returns(env: Env) -> dict[str, Any]:
    """The return wizard's button (18 and later): a return transfer; its window action."""
    return rules.create_return(env)


@rpc("action_assign", models=("stock.picking",))
def picking_action_assign(env: Env) -> bool:
    """Try to reserve what the pickings' moves still miss."""
    state = env.state
    moves = state.tables["stock.move"]
    for row in state.rows(env):
        for mid in moves.indexes["picking_id"].map.get(row[0], ()):
            move = moves.records[mid]
            if move[moves.pos["state"]] in ("confirmed", "partially_available", "waiting") and (
                state.is_storable(move[moves.pos["product_id"]])
            ):
                rules.reserve_move(state, move)
        rules.refresh_picking_state(state, row[0])
    return True


@rpc("button_validate", models=("stock.picking",))
def button_validate(env: Env) -> Any:
    """Process the pickings: deliveries with what is reserved, receipts with what is received.

    A receipt short of its demand asks first, as Odoo does: the answer is the
    ``stock.backorder.confirmation`` wizard's action, unless the context says
    ``skip_backorder`` (then a backorder is made, but for the pickings in
    ``picking_ids_not_to_backorder``) or ``cancel_backorder`` (the rest is cancelled).
    """
    state = env.state
    rows = state.rows(env)
    for row in rows:
        if row[state.tables["stock.picking"].pos["state"]] in ("done", "cancel"):
            raise UserError("You cannot validate a transfer that is already done or cancelled.")
    ctx = env.context
    if not ctx.get("skip_backorder") and not ctx.get("cancel_backorder"):
        short = [row[0] for row in rows if rules.receipt_shortfall(state, row[0])]
        if short:
            return {
                "name": "Create Backorder?",
                "type": "ir.actions.act_window",
                "view_mode": "form",
                "res_model": "stock.backorder.confirmation",
                "views": [[False, "form"]],
                "target": "new",
                "context": {
                    **ctx,
                    "button_validate_picking_ids": list(env.ids),
                    "default_show_transfers": False,
                    "default_pick_ids": [[4, pid] for pid in short],
                },
            }
    not_to_backorder = set(ctx.get("picking_ids_not_to_backorder") or ())
    for row in rows:
        backorder = not ctx.get("cancel_backorder") and row[0] not in not_to_backorder
        rules.validate_picking(state, row[0], backorder=backorder)
    return True


@rpc("process", models=("stock.backorder.confirmation",))
def backorder_process(env: Env) -> Any:
    """The wizard's *Create Backorder*: validate the pickings of ``button_validate_picking_ids``
    (the context the wizard action carries) with backorders."""
    return _backorder_answer(env, cancel=False)


@rpc("process_cancel_backorder", models=("stock.backorder.confirmation",))
def backorder_process_cancel(env: Env) -> Any:
    """The wizard's *No Backorder*: validate them and cancel what was not received."""
    return _backorder_answer(env, cancel=True)


def _backorder_answer(env: Env, cancel: bool) -> Any:
    state = env.state
    wizards = state.tables["stock.backorder.confirmation"]
    asked = {pid for row in state.rows(env) for pid in row[wizards.pos["pick_ids"]]}
    to_validate = env.context.get("button_validate_picking_ids")
    if not to_validate:
        return True
    pickings = env.for_model("stock.picking", to_validate)
    if cancel:
        return button_validate(
            pickings.with_context(skip_backorder=True, picking_ids_not_to_backorder=sorted(asked))
        )
    return button_validate(pickings.with_context(skip_backorder=True))


@rpc("action_apply_inventory", models=("stock.quant",))
def action_apply_inventory(env: Env) -> None:
    """Apply the counted quantities (``inventory_quantity``) as inventory adjustments."""
    rules.apply_inventory(env)


# -- purchases ------------------------------------------------------------------------------------


@rpc("button_confirm", models=("purchase.order",))
def purchase_button_confirm(env: Env) -> bool:
    """Confirm requests for quotation: state ``purchase`` and the receipt."""
    return purchase.button_confirm(env)


@rpc("button_approve", models=("purchase.order",))
def purchase_button_approve(env: Env, force: bool = False) -> bool:
    """Approve orders waiting for approval."""
    return purchase.button_approve(env)


@rpc("button_cancel", models=("purchase.order",))
def purchase_button_cancel(env: Env) -> bool:
    """Cancel orders and their open receipts (refused once something was received)."""
    return purchase.button_cancel(env)


@rpc("button_draft", models=("purchase.order",))
def purchase_button_draft(env: Env) -> bool:
    """Set cancelled orders back to request for quotation."""
    return purchase.button_draft(env)


@rpc("button_done", models=("purchase.order",), max_version=18)
def purchase_button_done(env: Env) -> bool:
    """Lock confirmed orders: state ``done`` (up to 18)."""
    return purchase.set_locked(env, True)


@rpc("button_lock", models=("purchase.order",), min_version=19)
def purchase_button_lock(env: Env) -> bool:
    """Lock confirmed orders: the ``locked`` flag (19)."""
    return purchase.set_locked(env, True)


@rpc("button_unlock", models=("purchase.order",))
def purchase_button_unlock(env: Env) -> bool:
    """Unlock orders."""
    return purchase.set_locked(env, False)


# -- external identifiers -------------------------------------------------------------------------


@rpc("check_object_reference", model_api=True, readonly=True, models=("ir.model.data",))
def check_object_reference(
    env: Env, module: str, xml_id: str, raise_on_access_error: bool = False
) -> list[Any]:
    """``[model, res_id]`` of ``module.xml_id`` (what odoorpc's ``env.ref`` calls);
    ``ValueError`` when no such external id exists."""
    state = env.state
    data = state.tables["ir.model.data"]
    pos = data.pos
    for rid in data.indexes["name"].map.get(xml_id, ()):
        row = data.records[rid]
        if row[pos["module"]] != module:
            continue
        model, res_id = row[pos["model"]], row[pos["res_id"]]
        if model in state.tables and res_id in state.tables[model].records:
            return [model, res_id]
        if raise_on_access_error:
            raise AccessError(f"Not enough access rights on the external ID '{module}.{xml_id}'")
        return [model, False]
    raise ValueError(f"External ID not found in the system: {module}.{xml_id}")
