"""What changed in Odoo since a cursor: quants, done moves, products and templates, by stamp.

Odoo has no change feed. Every record carries a stamp: `write_date` (the *start* of the
transaction that last wrote it, in UTC, to the second) and, for a done `stock.move`, its
`date` (when it was done). Four *legs* are read by their stamp:

- `quants`: `stock.quant` by `write_date` (every ORM change of stock or reservations);
- `moves`: done `stock.move` by `date` (a second witness of every stock change: Odoo's
  raw-SQL quant merges and clean-ups leave the quant's stamp alone, never the move's);
- `products`: `product.product` by `write_date`, archived ones included (archiving, a new
  internal reference or barcode);
- `templates`: `product.template` by `write_date`, archived ones included (the unit of
  measure, storability and archiving live on the template).

A stamp is not a safe watermark alone (`specs/odoo.md`): a long transaction commits an
older stamp after newer ones were read. So each read covers an *overlap window*: every
record stamped at or after `high_water - overlap`, where `high_water` is the newest stamp
read so far; and the records already read inside the window (their ids per stamp second, in
the cursor) are excluded *in the domain*, so a re-read costs nothing and routes nothing twice.
The cursor moves only as far as every leg was read: a leg cut at `max_records` keeps the
window where it was cut, and the rest is read next time. Nothing is ever skipped.

Cost: on Odoo 17 and later, one `search` (limit 1) on `product.product` asks all four legs
at once through the `any` operator, so an evaluation where nothing changed makes **one**
call; Odoo 16 has no `any`, so there each leg is read directly (four calls). When something
changed: the four leg reads (one call each, at most `max_records + 1` rows) and one
`product.product` read per 5,000 products to learn their SKUs.

What this cannot see: a quant changed by raw SQL without a done move (`write_date` untouched),
a deleted quant, and a transaction longer than the overlap window. The nightly full
reconciliation is the net for those.

This module speaks to Odoo only; it knows nothing of Dagster or the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from inventory_pipelines.odoo.client import OdooClient
from inventory_pipelines.odoo.snapshot import IN_CHUNK

__all__ = ["LEGS", "ChangeCursor", "Changes", "Leg", "many2one_id", "read_changes"]

STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
#: where the stamps start when Odoo holds no record at all
EPOCH = "1970-01-01 00:00:00"
_ARCHIVED = {"active_test": False}

Domain = list[Any]


@dataclass(frozen=True)
class Leg:
    """One kind of record whose stamp says that a product may have changed."""

    name: str
    model: str
    stamp: str
    #: fields read besides `id` and the stamp
    fields: tuple[str, ...]
    #: how `product.product` reaches these records (None: the products themselves)
    path: str | None
    base: tuple[tuple[str, str, Any], ...] = ()


LEGS: tuple[Leg, ...] = (
    Leg(
        "quants",
        "stock.quant",
        "write_date",
        ("product_id", "location_id", "quantity", "reserved_quantity"),
        "stock_quant_ids",
    ),
    Leg(
        "moves", "stock.move", "date", ("product_id",), "stock_move_ids", (("state", "=", "done"),)
    ),
    Leg("products", "product.product", "write_date", ("default_code",), None),
    Leg("templates", "product.template", "write_date", (), "product_tmpl_id"),
)


@dataclass(frozen=True)
class ChangeCursor:
    """Where the reading stands: a plain JSON value (a Dagster sensor keeps it).

    - `high_water`: the newest stamp (to the second) up to which every leg has been read;
    - `floor`: the newest stamp Odoo held when the reading began (first evaluation); what is
      stamped at or before it predates the sensor and is the full refresh's business;
    - `seen`: per leg, per stamp second inside the overlap window, the ids already read.
    """

    high_water: str
    floor: str | None = None
    seen: Mapping[str, Mapping[str, tuple[int, ...]]] = field(default_factory=dict)

    def to_json(self) -> str:
        """The cursor as compact JSON (stable key order)."""
        seen = {
            leg: {stamp: sorted(ids) for stamp, ids in sorted(stamps.items())}
            for leg, stamps in sorted(self.seen.items())
            if stamps
        }
        value = {"v": 1, "high_water": self.high_water, "floor": self.floor, "seen": seen}
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> ChangeCursor | None:
        """The cursor `to_json` wrote; None for no cursor (the first evaluation)."""
        if not text:
            return None
        value = json.loads(text)
        if value.get("v") != 1:
            raise ValueError(f"unknown change cursor version {value.get('v')!r}")
        seen = {
            leg: {stamp: tuple(int(i) for i in ids) for stamp, ids in stamps.items()}
            for leg, stamps in (value.get("seen") or {}).items()
        }
        return cls(_stamp(value["high_water"]), value.get("floor"), seen)

    def window_start(self, overlap_s: int) -> str:
        """The oldest stamp the next read covers: the overlap before `high_water`, but never
        at or before `floor`."""
        start = _shift(self.high_water, -overlap_s)
        if self.floor is not None:
            start = max(start, _shift(self.floor, 1))
        return start


@dataclass(frozen=True)
class Changes:
    """What one evaluation read."""

    cursor: ChangeCursor
    #: SKU -> the legs that changed it
    skus: dict[str, set[str]]
    #: the records read per leg (new ones only), as Odoo returned them
    records: dict[str, list[dict[str, Any]]]
    #: products (ids) the records touch, with or without a SKU
    product_ids: frozenset[int]
    #: the stamps this read covered: from the window's start to the new high-water mark
    window: tuple[str, str]
    #: Odoo calls made (the client's one-time version and login calls not counted)
    calls: int
    #: whether a leg was cut at `max_records` (the rest is read next time)
    truncated: bool = False
    #: the first evaluation: the starting point was taken, nothing was read
    baseline: bool = False


def read_changes(
    client: OdooClient,
    cursor: ChangeCursor | None,
    *,
    overlap_s: int,
    max_records: int = 2_000,
    legs: Sequence[Leg] = LEGS,
) -> Changes:
    """Read what changed in Odoo since `cursor` (see the module docstring).

    Without a cursor, only the starting point is taken: the newest stamp of every leg (one
    call each); nothing is read as changed.
    """
    if max_records < 1:
        raise ValueError("max_records must be at least 1")
    if cursor is None:
        return _baseline(client, legs)
    start = cursor.window_start(overlap_s)
    domains = {leg.name: _window_domain(leg, start, cursor.seen.get(leg.name, {})) for leg in legs}
    calls = 0
    unchanged = Changes(cursor, {}, {}, frozenset(), (start, cursor.high_water), 1)
    if client.version.major >= 17:
        calls += 1
        if not _probe(client, legs, domains):
            return unchanged
    records: dict[str, list[dict[str, Any]]] = {}
    cut_at: list[str] = []
    for leg in legs:
        rows = client.call(
            leg.model,
            "search_read",
            [domains[leg.name]],
            {
                "fields": ["id", leg.stamp, *leg.fields],
                "order": f"{leg.stamp}, id",
                "limit": max_records + 1,
                "load": None,
                "context": dict(_ARCHIVED),
            },
        )
        calls += 1
        if len(rows) > max_records:
            rows = rows[:max_records]
            cut_at.append(_stamp(rows[-1][leg.stamp]))
        records[leg.name] = rows
    if not any(records.values()):
        return Changes(cursor, {}, records, frozenset(), (start, cursor.high_water), calls)
    skus, product_ids, lookups = _skus(client, records)
    calls += lookups
    newest = max(
        [cursor.high_water]
        + [_stamp(r[leg.stamp]) for leg in legs for r in records[leg.name] if r[leg.stamp]]
    )
    high_water = min([newest, *cut_at])
    seen = _seen_after(cursor, legs, records, high_water, overlap_s)
    floor = (
        cursor.floor if cursor.floor and _shift(high_water, -overlap_s) <= cursor.floor else None
    )
    return Changes(
        ChangeCursor(high_water, floor, seen),
        skus,
        records,
        frozenset(product_ids),
        (start, high_water),
        calls,
        truncated=bool(cut_at),
    )


def _baseline(client: OdooClient, legs: Sequence[Leg]) -> Changes:
    newest = EPOCH
    for leg in legs:
        rows = client.call(
            leg.model,
            "search_read",
            [[list(term) for term in leg.base]],
            {
                "fields": [leg.stamp],
                "order": f"{leg.stamp} desc, id desc",
                "limit": 1,
                "context": dict(_ARCHIVED),
            },
        )
        if rows and rows[0][leg.stamp]:
            newest = max(newest, _stamp(rows[0][leg.stamp]))
    cursor = ChangeCursor(newest, newest, {})
    return Changes(cursor, {}, {}, frozenset(), (newest, newest), len(legs), baseline=True)


def _window_domain(leg: Leg, start: str, seen: Mapping[str, Iterable[int]]) -> Domain:
    """The leg's records stamped at or after `start` that were not read at their stamp."""
    terms: list[Domain] = [[list(term)] for term in leg.base]
    terms.append([[leg.stamp, ">=", start]])
    for stamp, ids in sorted(seen.items()):
        if stamp < start:
            continue
        same_second = _and(
            [["id", "in", sorted(ids)]],
            [[leg.stamp, ">=", stamp]],
            [[leg.stamp, "<", _shift(stamp, 1)]],
        )
        terms.append(["!", *same_second])
    return _and(*terms)


def _probe(client: OdooClient, legs: Sequence[Leg], domains: Mapping[str, Domain]) -> bool:
    """Whether any leg has a record in its window (one `search`, limit 1; Odoo 17+)."""
    terms = [
        domains[leg.name] if leg.path is None else [[leg.path, "any", domains[leg.name]]]
        for leg in legs
    ]
    found = client.call(
        "product.product",
        "search",
        [_or(*terms)],
        {"limit": 1, "order": "id", "context": dict(_ARCHIVED)},
    )
    return bool(found)


def _skus(
    client: OdooClient, records: Mapping[str, list[dict[str, Any]]]
) -> tuple[dict[str, set[str]], set[int], int]:
    """SKU -> legs, the product ids touched, and the lookup calls made."""
    by_product: dict[int, set[str]] = {}
    by_template: dict[int, set[str]] = {}
    sku_of: dict[int, str | None] = {}
    for r in records.get("products", []):
        by_product.setdefault(r["id"], set()).add("products")
        sku_of[r["id"]] = r.get("default_code") or None
    for name in ("quants", "moves"):
        for r in records.get(name, []):
            product = many2one_id(r.get("product_id"))
            if product is not None:
                by_product.setdefault(product, set()).add(name)
    for r in records.get("templates", []):
        by_template.setdefault(r["id"], set()).add("templates")
    unknown = sorted(p for p in by_product if p not in sku_of)
    templates = sorted(by_template)
    calls = 0
    for ids, tmpl_ids in _lookup_chunks(unknown, templates):
        domain = _or(
            *([[["id", "in", ids]]] if ids else []),
            *([[["product_tmpl_id", "in", tmpl_ids]]] if tmpl_ids else []),
        )
        rows = client.call(
            "product.product",
            "search_read",
            [domain],
            {"fields": ["default_code", "product_tmpl_id"], "load": None, "context": _ARCHIVED},
        )
        calls += 1
        for r in rows:
            sku_of[r["id"]] = r.get("default_code") or None
            template = many2one_id(r.get("product_tmpl_id"))
            if template in by_template:
                by_product.setdefault(r["id"], set()).update(by_template[template])
    skus: dict[str, set[str]] = {}
    for product, legs in by_product.items():
        sku = sku_of.get(product)
        if sku:
            skus.setdefault(sku, set()).update(legs)
    return skus, set(by_product), calls


def _lookup_chunks(
    products: list[int], templates: list[int]
) -> Iterable[tuple[list[int], list[int]]]:
    """Ids to look up, at most `IN_CHUNK` per call (products first, then templates)."""
    ids: list[tuple[str, int]] = [("p", i) for i in products] + [("t", i) for i in templates]
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        yield [i for k, i in chunk if k == "p"], [i for k, i in chunk if k == "t"]


def _seen_after(
    cursor: ChangeCursor,
    legs: Sequence[Leg],
    records: Mapping[str, list[dict[str, Any]]],
    high_water: str,
    overlap_s: int,
) -> dict[str, dict[str, tuple[int, ...]]]:
    """The ids read per leg and stamp second that the next window still covers."""
    start = _shift(high_water, -overlap_s)
    seen: dict[str, dict[str, tuple[int, ...]]] = {}
    for leg in legs:
        stamps: dict[str, set[int]] = {
            stamp: set(ids) for stamp, ids in cursor.seen.get(leg.name, {}).items()
        }
        for r in records.get(leg.name, []):
            if r[leg.stamp]:
                stamps.setdefault(_stamp(r[leg.stamp]), set()).add(int(r["id"]))
        kept = {stamp: tuple(sorted(ids)) for stamp, ids in stamps.items() if stamp >= start}
        if kept:
            seen[leg.name] = kept
    return seen


def _and(*terms: Domain) -> Domain:
    """Terms (each a domain of one term: a leaf or an operator tree) joined by AND."""
    terms = tuple(t for t in terms if t)
    return ["&"] * (len(terms) - 1) + [token for term in terms for token in _one(term)]


def _or(*terms: Domain) -> Domain:
    """Domains joined by OR (each domain made one term first)."""
    terms = tuple(t for t in terms if t)
    return ["|"] * (len(terms) - 1) + [token for term in terms for token in _one(term)]


def _one(domain: Domain) -> Domain:
    """A domain as a single prefix term: its implicit ANDs made explicit."""
    count, needed = 0, 1
    for token in domain:
        if token in ("&", "|"):
            needed += 1
        elif token != "!":
            needed -= 1
            if needed == 0:
                count += 1
                needed = 1
    return ["&"] * (count - 1) + list(domain) if count > 1 else list(domain)


def many2one_id(value: Any) -> int | None:
    """A many2one as an id (Odoo sends an id, `[id, name]` or False)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return int(value) if value else None


def _stamp(value: str) -> str:
    """An Odoo datetime to the second ("YYYY-MM-DD HH:MM:SS")."""
    return str(value)[:19].replace("T", " ")


def _shift(stamp: str, seconds: int) -> str:
    moved = datetime.strptime(stamp, STAMP_FORMAT) + timedelta(seconds=seconds)
    return moved.strftime(STAMP_FORMAT)
