"""In-memory tables for the emulated Odoo: fields, rows, indexes, fast readers and ordering.

Rows are plain lists (position 0 is the id) kept in a dict by id, with a sorted list of ids
beside it, so that ``id >`` / ``id <`` is a bisect and a keyset page costs what the page costs.
Fields declared ``index=True`` get a hash index (value -> ascending list of ids); ``ordered=True``
adds a sorted list of distinct values for range conditions (``write_date >= x``).

Readers are generated Python functions (one per model, field list and ``load``) because a
generic per-field loop costs several times more when a client pages through 300,000 quants.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Env

#: field types whose empty value is ``False`` (SQL NULL)
NULLABLE_TYPES = frozenset(
    {"char", "text", "html", "selection", "date", "datetime", "many2one", "reference"}
)
X2MANY_TYPES = frozenset({"one2many", "many2many"})
RELATIONAL_TYPES = frozenset({"many2one", "one2many", "many2many"})
NUMERIC_TYPES = frozenset({"integer", "float", "monetary"})

ComputeFn = Callable[["Env", list[list]], dict[int, Any]]
SearchFn = Callable[["Env", str, Any], Iterable[int]]


@dataclass
class Field:
    """One field of a model, with the attributes ``fields_get`` reports."""

    name: str
    type: str
    string: str = ""
    relation: str | None = None
    #: for one2many: the many2one on the comodel pointing back here
    inverse: str | None = None
    selection: tuple[tuple[str, str], ...] | None = None
    required: bool = False
    readonly: bool = False
    store: bool = True
    index: bool = False
    #: keep the distinct values sorted too, for range conditions
    ordered: bool = False
    #: a value, or a callable ``(state) -> value`` evaluated at create time
    default: Any = None
    #: dotted path of stored fields this (non-stored) field mirrors
    related: str | None = None
    #: batch compute for non-stored computed fields: ``(env, rows) -> {id: value}``
    compute: ComputeFn | None = None
    #: search implementation for a non-stored computed field: ``(env, op, value) -> ids``
    search: SearchFn | None = None
    help: str = ""
    #: ``sum`` for quantities; ``None`` means not aggregatable
    aggregator: str | None = None
    #: what to do with this row when the many2one target is deleted
    ondelete: str = "set null"
    pos: int = -1

    def __post_init__(self) -> None:
        if not self.string:
            self.string = self.name.replace("_id", "").replace("_", " ").title()
        if self.related or self.compute or self.type == "one2many":
            self.store = False
        if self.aggregator is None and self.type in NUMERIC_TYPES and self.name != "id":
            self.aggregator = "sum"

    @property
    def empty(self) -> Any:
        """The value Odoo reads for an unset field of this type."""
        if self.type in X2MANY_TYPES:
            return []
        if self.type == "integer":
            return 0
        if self.type in ("float", "monetary"):
            return 0.0
        return False

    @property
    def searchable(self) -> bool:
        """Whether a domain may name this field."""
        return (
            self.store
            or self.related is not None
            or self.search is not None
            or (self.type == "one2many")
        )

    def describe(self) -> dict[str, Any]:
        """The ``fields_get`` entry for this field."""
        info: dict[str, Any] = {
            "type": self.type,
            "string": self.string,
            "help": self.help,
            "readonly": self.readonly or self.compute is not None,
            "required": self.required,
            "store": self.store,
            "searchable": self.searchable,
            "sortable": self.store,
            "groupable": self.store and self.type not in X2MANY_TYPES,
            "manual": False,
            "company_dependent": False,
            "change_default": False,
            "depends": [],
            "exportable": True,
            "name": self.name,
        }
        if self.relation:
            info["relation"] = self.relation
            info["context"] = {}
            info["domain"] = []
        if self.inverse:
            info["relation_field"] = self.inverse
        if self.selection is not None:
            info["selection"] = [list(option) for option in self.selection]
        if self.related:
            info["related"] = self.related
        if self.aggregator:
            info["aggregator"] = self.aggregator
            info["group_operator"] = self.aggregator
        return info


class HashIndex:
    """Value -> ascending list of ids; optionally the distinct values kept sorted."""

    __slots__ = ("keys", "map", "pos")

    def __init__(self, pos: int, ordered: bool) -> None:
        self.pos = pos
        self.map: dict[Any, list[int]] = {}
        self.keys: list[Any] | None = [] if ordered else None

    def add(self, key: Any, rid: int) -> None:
        """Index ``rid`` under ``key``."""
        ids = self.map.get(key)
        if ids is None:
            self.map[key] = [rid]
            if self.keys is not None and key is not False and key is not None:
                bisect.insort(self.keys, key)
        elif ids[-1] < rid:
            ids.append(rid)
        else:
            bisect.insort(ids, rid)

    def remove(self, key: Any, rid: int) -> None:
        """Forget ``rid`` under ``key``."""
        ids = self.map.get(key)
        if not ids:
            return
        i = bisect.bisect_left(ids, rid)
        if i < len(ids) and ids[i] == rid:
            del ids[i]
        if not ids:
            del self.map[key]
            if self.keys is not None and key is not False and key is not None:
                j = bisect.bisect_left(self.keys, key)
                if j < len(self.keys) and self.keys[j] == key:
                    del self.keys[j]

    def lists_for(self, keys: Iterable[Any]) -> list[list[int]]:
        """The id lists of the given values (missing values contribute nothing)."""
        get = self.map.get
        return [ids for ids in (get(key) for key in keys) if ids]

    def lists_in_range(
        self, low: Any, low_incl: bool, high: Any, high_incl: bool
    ) -> list[list[int]]:
        """The id lists of the values in a range (``None`` = unbounded)."""
        assert self.keys is not None
        keys = self.keys
        start = 0
        if low is not None:
            start = (bisect.bisect_left if low_incl else bisect.bisect_right)(keys, low)
        end = len(keys)
        if high is not None:
            end = (bisect.bisect_right if high_incl else bisect.bisect_left)(keys, high)
        return [self.map[keys[k]] for k in range(start, end)]


DisplayFn = Callable[["Table", list], str]


def _default_display(table: Table, row: list) -> str:
    pos = table.rec_pos
    if pos is None:
        return f"{table.name},{row[0]}"
    value = row[pos]
    return value if isinstance(value, str) else f"{table.name},{row[0]}"


class Table:
    """The rows, indexes and metadata of one model."""

    def __init__(
        self,
        name: str,
        description: str,
        fields: list[Field],
        *,
        order: str = "id",
        rec_name: str | None = "name",
        parent_name: str | None = None,
        display: DisplayFn | None = None,
        cache_display: bool = True,
    ) -> None:
        self.name = name
        self.description = description
        self.order = order
        self.parent_name = parent_name
        self.fields: dict[str, Field] = {}
        stored: list[Field] = []
        for f in fields:
            self.fields[f.name] = f
            if f.store:
                f.pos = len(stored)
                stored.append(f)
        self.stored = stored
        self.pos: dict[str, int] = {f.name: f.pos for f in stored}
        self.rec_pos = self.pos.get(rec_name) if rec_name else None
        self.rec_name = rec_name
        self.display = display or _default_display
        self.display_names: dict[int, str] | None = {} if cache_display else None
        self.records: dict[int, list] = {}
        self.ids: list[int] = []
        self.next_id = 1
        self.indexes: dict[str, HashIndex] = {}
        self._reader_cache: dict[tuple, Callable] = {}
        self._blank: list = [f.empty if f.type not in X2MANY_TYPES else () for f in stored]

    # -- schema helpers ---------------------------------------------------------------------

    def build_indexes(self) -> None:
        """Create the declared indexes (called once the schema is final)."""
        for f in self.stored:
            if f.index or f.ordered:
                self.indexes[f.name] = HashIndex(f.pos, f.ordered)

    def blank_row(self) -> list:
        """A row with every stored field at its empty value and no id yet."""
        row = self._blank[:]
        row[0] = None
        return row

    # -- rows -------------------------------------------------------------------------------

    def insert(self, row: list) -> int:
        """Store a complete row; assigns the next id when ``row[0]`` is ``None``."""
        rid = row[0]
        if rid is None:
            rid = self.next_id
            row[0] = rid
        self.next_id = max(self.next_id, rid + 1)
        self.records[rid] = row
        ids = self.ids
        if not ids or ids[-1] < rid:
            ids.append(rid)
        else:
            bisect.insort(ids, rid)
        for index in self.indexes.values():
            index.add(row[index.pos], rid)
        if self.display_names is not None:
            self.display_names[rid] = self.display(self, row)
        return rid

    def set_value(self, row: list, f: Field, value: Any) -> None:
        """Change one stored value, keeping its index right."""
        index = self.indexes.get(f.name)
        if index is not None:
            old = row[f.pos]
            if old == value and type(old) is type(value):
                return
            index.remove(old, row[0])
            index.add(value, row[0])
        row[f.pos] = value

    def delete(self, rid: int) -> None:
        """Remove a row and its index entries."""
        row = self.records.pop(rid, None)
        if row is None:
            return
        i = bisect.bisect_left(self.ids, rid)
        if i < len(self.ids) and self.ids[i] == rid:
            del self.ids[i]
        for index in self.indexes.values():
            index.remove(row[index.pos], rid)
        if self.display_names is not None:
            self.display_names.pop(rid, None)

    def refresh_display(self, row: list) -> None:
        """Recompute the cached display name of a row after a write."""
        if self.display_names is not None:
            self.display_names[row[0]] = self.display(self, row)

    def display_name_of(self, rid: int) -> str:
        """The display name of one record (cached or computed)."""
        if self.display_names is not None:
            return self.display_names.get(rid, "")
        row = self.records.get(rid)
        return self.display(self, row) if row is not None else ""

    # -- iteration --------------------------------------------------------------------------

    def iter_id_range(self, lo: int, hi: int, descending: bool) -> Iterator[int]:
        """Ids at positions ``lo <= k < hi`` of the sorted id list, without copying it all."""
        ids = self.ids
        step = 4096
        if not descending:
            k = lo
            while k < hi:
                yield from ids[k : min(k + step, hi)]
                k += step
        else:
            k = hi
            while k > lo:
                yield from reversed(ids[max(k - step, lo) : k])
                k -= step


_ORDER_PART = re.compile(r"^\s*([\w.]+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$", re.I)


@dataclass(frozen=True)
class OrderTerm:
    """One term of an ORDER BY."""

    field: str
    descending: bool
    nulls_first: bool


def parse_order(table: Table, order: str | None) -> list[OrderTerm]:
    """Parse ``"write_date asc, id asc"``; raises ``ValueError`` like Odoo on a bad field."""
    terms: list[OrderTerm] = []
    for part in (order or table.order).split(","):
        if not part.strip():
            continue
        match = _ORDER_PART.match(part)
        if not match:
            raise ValueError(f'Invalid "order" specified ({order}).')
        name, direction, nulls = match.groups()
        name = name.split(".")[0]
        f = table.fields.get(name)
        if f is None:
            raise ValueError(f"Invalid field {name!r} on model {table.name!r}")
        if not f.store and not f.related and name != "display_name":
            raise ValueError(f"Cannot convert {table.name}.{name} to SQL because it is not stored")
        descending = (direction or "asc").lower() == "desc"
        nulls_first = descending if nulls is None else nulls.lower() == "first"
        terms.append(OrderTerm(name, descending, nulls_first))
    return terms


@dataclass
class ReadPlan:
    """A compiled reader: ``build(rows, *computed_maps)`` returns the list of dicts."""

    build: Callable[..., list[dict[str, Any]]]
    computed: list[Field] = field(default_factory=list)
