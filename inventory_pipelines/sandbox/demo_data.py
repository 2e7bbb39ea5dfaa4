"""Deterministic demo data for the Odoo sandbox: a distributor's catalog, warehouses and stock.

Same ``seed`` and ``skus`` give the same records, ids and values (``random.Random(seed)`` only;
timestamps are spread over the 30 days before ``DEMO_EPOCH``, not taken from the clock).

Facts other tests and rules can rely on:

- Company ``YourCompany`` (id 1); user ``admin`` (uid 2).
- Warehouses ``MAIN`` (Main Warehouse), ``EAST`` (East Warehouse), ``WEST`` (West Warehouse).
  Per warehouse ``<CODE>`` the locations are, by ``complete_name``:
  ``<CODE>`` (view, the warehouse's ``view_location_id``), ``<CODE>/Stock`` (internal,
  ``lot_stock_id``), ``<CODE>/Stock/Shelf 1`` and ``<CODE>/Stock/Shelf 2`` (internal),
  ``<CODE>/Stock/QC`` and ``<CODE>/Stock/Damaged`` (internal, quality hold: never reserved,
  listed in ``OdooState.hold_location_ids``). Picking types ``<CODE>: Receipts``
  (``<CODE>/IN/``), ``<CODE>: Delivery Orders`` (``<CODE>/OUT/``), ``<CODE>: Internal
  Transfers`` (``<CODE>/INT/``).
- Company-level locations: ``Physical Locations`` (view), ``Physical Locations/Inter-warehouse
  transit`` (transit) with ``Physical Locations/Inter-warehouse transit/To MAIN``, ``.../To
  EAST``, ``.../To WEST`` (transit, ``warehouse_id`` False); ``Partners/Vendors`` (supplier),
  ``Partners/Customers`` (customer), ``Virtual Locations/Inventory adjustment`` (inventory),
  ``Virtual Locations/Production`` (production), ``Virtual Locations/Scrap`` (inventory;
  ``scrap_location`` True up to 18).
- Units of measure: ``Units`` (reference), ``Dozens`` (12 Units), ``Pack of 6`` (6 Units).
  16-18: category ``Unit``; ``factor`` is "1 reference unit = factor x this unit", so Dozens
  ``factor`` = 1/12 (``factor_inv`` 12, ``uom_type`` bigger), Pack of 6 ``factor`` = 1/6.
  19: no categories; Dozens ``relative_factor`` 12, ``relative_uom_id`` Units, ``factor`` 12;
  Pack of 6 ``relative_factor`` 6, ``factor`` 6.
- Partners: ``Online Store Customer``, ``Amazon Marketplace``, ``Wholesale Buyer Ltd``,
  ``Walk-in Customer`` (customers) and ``Main Supplier Inc`` (vendor).
- Products: ``skus`` storable, active variants with a ``default_code`` ``SKU-000001``...
  (numbered across all products, dirt included), EAN-13 barcodes. About 15% of templates have
  2-4 variants (attribute ``Size``: S, M, L, XL). About 5% of templates are in Dozens and 5%
  in Pack of 6 (quant quantities are in the product's unit, as in Odoo). About 5% of templates
  are tracked by lots, with 1-3 lots (``LOT-<product id>-<n>``) per variant.
- Dirt, on top of ``skus``: ~1% archived storable products (``active`` False) that still have
  stock; ~1% storable products without ``default_code`` (with stock); ~2% consumables that
  are not storable (``type`` consu, ``is_storable`` False on 18+; SKU codes, no quants);
  ~0.5% of the SKUs come in pairs sharing one barcode.
- Stock: every storable product with stock has a quant in each warehouse, in ``<CODE>/Stock``
  or one of its shelves (one quant per lot for tracked products). ~2% of those quants have
  quantity 0; ~10% have ``reserved_quantity`` > 0 (never above ``quantity``). ~5% of products
  also have a quant in ``<CODE>/Stock/QC`` or ``<CODE>/Stock/Damaged``; ~3% have one in a
  ``To <CODE>`` transit location.
- History: ~10% of products have a done receipt move from ``Partners/Vendors`` and ~5% a done
  delivery to ``Partners/Customers``; as in Odoo, those leave quants in the partner locations
  (negative at Vendors, positive at Customers), which an inventory reader must filter out by
  ``location_id.usage``.
- Supply (``purchase``, ``purchase_stock``, ``stock_dropshipping`` installed): vendors
  ``Main Supplier Inc``, ``Nordwind Industrial GmbH``, ``Pacific Components Ltd`` and
  ``Bright Drop-Ship Co`` (the drop-ship vendor: short lead times). About 30% of the stocked
  templates with a SKU have a ``product.supplierinfo``: on the template when it has one
  variant, per variant otherwise (plus, for one template of several variants, one entry on the
  template, which no single SKU matches); ~20% of them a second vendor (``sequence`` 2). Vendor
  codes look nothing like our SKUs (``MS-204518``, ``NW-04711``, ``PCL/0412-K``,
  ``BDS 000193``); ~3% of entries have none (one at least). The route ``Dropship``
  (``stock_dropshipping.route_drop_shipping``) and the operation type ``Dropship`` (``DS/``;
  code ``dropship`` from 17, ``incoming`` on 16) exist; no product is on the route by default.
  Purchase orders ``P00001``...: confirmed orders (four to twelve, by catalog size) to MAIN,
  EAST and WEST in turn, lines planned 3 to 35 days after the day the data is built
  (``supply_from``: the one value not fixed by the seed). ``P00001`` (to MAIN) is partly
  received: its first line half, its second not at all, the rest in full; a backorder of its
  receipt waits with the rest. After the confirmed ones: one order confirmed and fully
  received, one cancelled, one request for quotation (``P00005`` to ``P00007`` with four).
- External ids (``ir.model.data``): ``base.main_company``, ``base.user_admin`` and the like,
  ``stock.stock_location_suppliers``, ``stock.stock_location_customers``, ``stock.warehouse0``
  (MAIN), ``uom.product_uom_unit``, ``uom.product_uom_dozen``,
  ``stock_dropshipping.route_drop_shipping``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from inventory_pipelines.sandbox.odoo.models import OdooState, gc_paused
from inventory_pipelines.sandbox.odoo.rules import default_uom

DEFAULT_SKUS = 2000
DEMO_EPOCH = datetime(2025, 1, 1, 0, 0, 0)
WAREHOUSES = (("MAIN", "Main Warehouse"), ("EAST", "East Warehouse"), ("WEST", "West Warehouse"))
SIZES = ("S", "M", "L", "XL")
CUSTOMERS = (
    "Online Store Customer",
    "Amazon Marketplace",
    "Wholesale Buyer Ltd",
    "Walk-in Customer",
)
VENDOR = "Main Supplier Inc"
DROPSHIP_VENDOR = "Bright Drop-Ship Co"
#: vendor name -> (how its product codes look, shortest and longest lead time in days)
VENDOR_CODES = {
    VENDOR: ("MS-{n:06d}", (5, 21)),
    "Nordwind Industrial GmbH": ("NW-{n:05d}", (10, 28)),
    "Pacific Components Ltd": ("PCL/{n:04d}-{letter}", (14, 35)),
    DROPSHIP_VENDOR: ("BDS {n:06d}", (1, 3)),
}

_ADJECTIVES = (
    "Steel",
    "Brass",
    "Compact",
    "Heavy-Duty",
    "Classic",
    "Premium",
    "Eco",
    "Outdoor",
    "Mini",
    "Industrial",
    "Organic",
    "Cotton",
    "Wireless",
    "Ceramic",
    "Bamboo",
    "Thermal",
)
_NOUNS = (
    "Bolt",
    "Hinge",
    "Lamp",
    "Mug",
    "Shirt",
    "Cable",
    "Drill",
    "Bottle",
    "Glove",
    "Jacket",
    "Hammer",
    "Charger",
    "Towel",
    "Backpack",
    "Notebook",
    "Sensor",
    "Kettle",
    "Helmet",
)


def ean13(number: int) -> str:
    """An EAN-13 string from a 12-digit payload (check digit computed like a real one)."""
    payload = f"{number:012d}"[-12:]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(payload))
    return payload + str((10 - total % 10) % 10)


def build_state(
    version: int | str = 17,
    skus: int = DEFAULT_SKUS,
    seed: int = 0,
    *,
    supply_from: datetime | None = None,
    **credentials: Any,
) -> OdooState:
    """A fresh :class:`OdooState` loaded with the demo data."""
    state = OdooState(version, **credentials)
    load_demo_data(state, skus=skus, seed=seed, supply_from=supply_from)
    return state


def load_demo_data(
    state: OdooState,
    skus: int = DEFAULT_SKUS,
    seed: int = 0,
    *,
    supply_from: datetime | None = None,
) -> dict[str, Any]:
    """Fill an empty state with the demo catalog, stock and supply; returns ids and counts.

    Purchase lines are planned after ``supply_from`` (default: today, midnight UTC, by the
    state's clock), so that incoming stock is in the future whenever the sandbox starts.
    """
    rng = random.Random(seed)
    stamps = [
        (DEMO_EPOCH - timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M:%S")
        for s in sorted(rng.sample(range(1, 30 * 86400), 4096), reverse=True)
    ]
    if supply_from is None:
        supply_from = state.current_time().replace(hour=0, minute=0, second=0)
    with gc_paused(), state.transaction(at=DEMO_EPOCH - timedelta(days=60)):
        setup = _setup(state)
        products = _catalog(state, rng, skus, setup, stamps)
        counts = _stock(state, rng, setup, products, stamps)
        # a stream of its own: the catalog and stock of a seed stay what they were before
        supply = _supply(state, random.Random(f"supply-{seed}"), setup, supply_from)
    return {"setup": setup, "products": len(products["all"]), **counts, "supply": supply}


def _setup(state: OdooState) -> dict[str, Any]:
    """Partners, units, categories, locations, picking types and warehouses."""
    profile = state.profile

    def create(model: str, vals: dict[str, Any]) -> int:
        return state.call(model, "create", [vals])

    customers = [
        create("res.partner", {"name": name, "customer_rank": 1, "is_company": True})
        for name in CUSTOMERS
    ]
    vendor = create("res.partner", {"name": VENDOR, "supplier_rank": 1, "is_company": True})

    if profile.uom_categories:
        category = create("uom.category", {"name": "Unit"})
        units = create(
            "uom.uom",
            {
                "name": "Units",
                "category_id": category,
                "factor": 1.0,
                "uom_type": "reference",
                "rounding": 0.01,
            },
        )
        dozens = create(
            "uom.uom",
            {
                "name": "Dozens",
                "category_id": category,
                "factor": 1.0 / 12.0,
                "uom_type": "bigger",
                "rounding": 0.01,
            },
        )
        pack = create(
            "uom.uom",
            {
                "name": "Pack of 6",
                "category_id": category,
                "factor": 1.0 / 6.0,
                "uom_type": "bigger",
                "rounding": 0.01,
            },
        )
    else:
        units = create("uom.uom", {"name": "Units", "relative_factor": 1.0, "sequence": 5})
        dozens = create(
            "uom.uom",
            {"name": "Dozens", "relative_factor": 12.0, "relative_uom_id": units, "sequence": 10},
        )
        pack = create(
            "uom.uom",
            {"name": "Pack of 6", "relative_factor": 6.0, "relative_uom_id": units, "sequence": 10},
        )

    all_categ = create("product.category", {"name": "All"})
    saleable = create("product.category", {"name": "Saleable", "parent_id": all_categ})
    size = create("product.attribute", {"name": "Size"})

    def location(name: str, usage: str, parent: int | bool = False, **extra: Any) -> int:
        return create(
            "stock.location", {"name": name, "usage": usage, "location_id": parent, **extra}
        )

    physical = location("Physical Locations", "view")
    partners = location("Partners", "view")
    virtual = location("Virtual Locations", "view")
    vendors = location("Vendors", "supplier", partners)
    customers_loc = location("Customers", "customer", partners)
    inventory = location("Inventory adjustment", "inventory", virtual)
    location("Production", "production", virtual)
    scrap_extra = {"scrap_location": True} if profile.has_scrap_location else {}
    location("Scrap", "inventory", virtual, **scrap_extra)
    transit_root = location("Inter-warehouse transit", "transit", physical)
    transit = {code: location(f"To {code}", "transit", transit_root) for code, _name in WAREHOUSES}

    warehouses: dict[str, dict[str, int]] = {}
    hold: set[int] = set()
    for sequence, (code, name) in enumerate(WAREHOUSES, start=1):
        view = location(code, "view", physical)
        stock = location("Stock", "internal", view)
        shelf1 = location("Shelf 1", "internal", stock)
        shelf2 = location("Shelf 2", "internal", stock)
        qc = location("QC", "internal", stock)
        damaged = location("Damaged", "internal", stock)
        hold.update((qc, damaged))
        in_type = create(
            "stock.picking.type",
            {
                "name": "Receipts",
                "code": "incoming",
                "sequence_code": "IN",
                "default_location_src_id": vendors,
                "default_location_dest_id": stock,
            },
        )
        out_type = create(
            "stock.picking.type",
            {
                "name": "Delivery Orders",
                "code": "outgoing",
                "sequence_code": "OUT",
                "default_location_src_id": stock,
                "default_location_dest_id": customers_loc,
            },
        )
        int_type = create(
            "stock.picking.type",
            {
                "name": "Internal Transfers",
                "code": "internal",
                "sequence_code": "INT",
                "default_location_src_id": stock,
                "default_location_dest_id": stock,
            },
        )
        warehouse = create(
            "stock.warehouse",
            {
                "name": name,
                "code": code,
                "view_location_id": view,
                "lot_stock_id": stock,
                "in_type_id": in_type,
                "out_type_id": out_type,
                "int_type_id": int_type,
                "sequence": sequence * 10,
                "partner_id": 1,
            },
        )
        types = state.tables["stock.picking.type"]
        for type_id in (in_type, out_type, int_type):
            row = types.records[type_id]
            types.set_value(row, types.fields["warehouse_id"], warehouse)
            types.refresh_display(row)
        warehouses[code] = {
            "id": warehouse,
            "view": view,
            "stock": stock,
            "shelf1": shelf1,
            "shelf2": shelf2,
            "qc": qc,
            "damaged": damaged,
            "transit": transit[code],
            "out_type": out_type,
        }
    state.hold_location_ids = hold
    return {
        "customers": customers,
        "vendor": vendor,
        "uom": {"units": units, "dozens": dozens, "pack": pack},
        "category": saleable,
        "size_attribute": size,
        "locations": {
            "vendors": vendors,
            "customers": customers_loc,
            "inventory": inventory,
            "transit_root": transit_root,
        },
        "warehouses": warehouses,
        "default_uom": default_uom(state),
    }


def _catalog(
    state: OdooState,
    rng: random.Random,
    skus: int,
    setup: dict[str, Any],
    stamps: list[str],
) -> dict[str, Any]:
    """Templates, attribute values and variants, written straight into the tables."""
    profile = state.profile
    templates = state.tables["product.template"]
    variants = state.tables["product.product"]
    values = state.tables["product.template.attribute.value"]
    tpos, ppos, vpos = templates.pos, variants.pos, values.pos
    uoms = setup["uom"]
    created = stamps[0]
    storable_type = "product" if profile.storable_flag == "type" else "consu"

    counter = 0
    storable_coded = 0
    stocked: list[tuple[int, int, bool]] = []  # (product id, uom id, lot tracked)
    all_products: list[int] = []
    coded_storable: list[int] = []
    archived_target = max(1, round(skus * 0.01)) if skus >= 50 else 0
    nocode_target = archived_target
    consumable_target = max(1, round(skus * 0.02)) if skus >= 50 else 0
    extra = {"archived": 0, "nocode": 0, "consumable": 0}

    def next_kind() -> str:
        # spread the dirt through the catalog instead of bunching it at the end
        roll = rng.random()
        if roll < 0.01 and extra["archived"] < archived_target:
            return "archived"
        if roll < 0.02 and extra["nocode"] < nocode_target:
            return "nocode"
        if roll < 0.04 and extra["consumable"] < consumable_target:
            return "consumable"
        return "normal"

    while storable_coded < skus or any(
        extra[k] < t
        for k, t in (
            ("archived", archived_target),
            ("nocode", nocode_target),
            ("consumable", consumable_target),
        )
    ):
        kind = (
            next_kind()
            if storable_coded < skus
            else next(
                k
                for k, t in (
                    ("archived", archived_target),
                    ("nocode", nocode_target),
                    ("consumable", consumable_target),
                )
                if extra[k] < t
            )
        )
        if kind != "normal":
            extra[kind] += 1
        n_variants = 1 if kind != "normal" or rng.random() >= 0.15 else rng.randint(2, 4)
        if kind == "normal":
            n_variants = min(n_variants, max(1, skus - storable_coded))
        roll = rng.random()
        uom = uoms["dozens"] if roll < 0.05 else uoms["pack"] if roll < 0.10 else uoms["units"]
        tracked = kind not in ("consumable",) and rng.random() < 0.05
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {len(templates.ids) + 1}"
        row = templates.blank_row()
        row[tpos["name"]] = name
        row[tpos["type"]] = storable_type if kind != "consumable" else "consu"
        if "detailed_type" in tpos:
            row[tpos["detailed_type"]] = row[tpos["type"]]
        if "is_storable" in tpos:
            row[tpos["is_storable"]] = kind != "consumable"
        if "uom_po_id" in tpos:
            row[tpos["uom_po_id"]] = uom
        row[tpos["uom_id"]] = uom
        row[tpos["categ_id"]] = setup["category"]
        row[tpos["list_price"]] = float(rng.randint(100, 20000)) / 100.0
        row[tpos["standard_price"]] = round(row[tpos["list_price"]] * 0.6, 2)
        row[tpos["sale_ok"]] = True
        row[tpos["purchase_ok"]] = True
        row[tpos["tracking"]] = "lot" if tracked else "none"
        row[tpos["company_id"]] = False
        row[tpos["active"]] = kind != "archived"
        row[tpos["create_date"]] = created
        row[tpos["write_date"]] = rng.choice(stamps)
        row[tpos["create_uid"]] = row[tpos["write_uid"]] = 2
        tmpl_id = templates.insert(row)
        value_ids: list[int] = []
        if n_variants > 1:
            for size in SIZES[:n_variants]:
                vrow = values.blank_row()
                vrow[vpos["name"]] = size
                vrow[vpos["attribute_id"]] = setup["size_attribute"]
                vrow[vpos["product_tmpl_id"]] = tmpl_id
                vrow[vpos["create_date"]] = vrow[vpos["write_date"]] = created
                vrow[vpos["create_uid"]] = vrow[vpos["write_uid"]] = 2
                value_ids.append(values.insert(vrow))
        first_code: str | bool = False
        for k in range(n_variants):
            counter += 1
            code: str | bool = False if kind == "nocode" else f"SKU-{counter:06d}"
            prow = variants.blank_row()
            prow[ppos["product_tmpl_id"]] = tmpl_id
            prow[ppos["default_code"]] = code
            prow[ppos["barcode"]] = ean13(200000000000 + counter)
            prow[ppos["active"]] = kind != "archived"
            prow[ppos["product_template_attribute_value_ids"]] = (
                (value_ids[k],) if value_ids else ()
            )
            prow[ppos["create_date"]] = created
            prow[ppos["write_date"]] = rng.choice(stamps)
            prow[ppos["create_uid"]] = prow[ppos["write_uid"]] = 2
            pid = variants.insert(prow)
            all_products.append(pid)
            if n_variants == 1:
                first_code = code
            if kind != "consumable":
                stocked.append((pid, uom, tracked))
            if kind == "normal":
                storable_coded += 1
                coded_storable.append(pid)
        if n_variants == 1:
            trow = templates.records[tmpl_id]
            trow[tpos["default_code"]] = first_code
            trow[tpos["barcode"]] = variants.records[all_products[-1]][ppos["barcode"]]

    # ~0.5% of the SKUs come in pairs sharing one barcode
    pairs = max(1, round(skus * 0.005 / 2)) if skus >= 100 else 0
    chosen = rng.sample(coded_storable, min(len(coded_storable), pairs * 2)) if pairs else []
    barcode_field = variants.fields["barcode"]
    shared = []
    for first, second in zip(chosen[0::2], chosen[1::2], strict=False):
        barcode = variants.records[first][ppos["barcode"]]
        variants.set_value(variants.records[second], barcode_field, barcode)
        shared.append((first, second))
    return {
        "all": all_products,
        "stocked": stocked,
        "shared_barcodes": shared,
        "extra": extra,
    }


def _stock(
    state: OdooState,
    rng: random.Random,
    setup: dict[str, Any],
    products: dict[str, Any],
    stamps: list[str],
) -> dict[str, Any]:
    """Quants in every warehouse, holds, transit, lots and some done history moves."""
    quants = state.tables["stock.quant"]
    lots = state.tables["stock.lot"]
    moves = state.tables["stock.move"]
    qpos, lpos, mpos = quants.pos, lots.pos, moves.pos
    warehouses = list(setup["warehouses"].values())
    created = stamps[0]
    qty_field = state.profile.move_quantity_field
    counts = {"quants": 0, "lots": 0, "moves": 0, "reserved": 0}
    partner_quants: dict[tuple[int, int], list] = {}

    def add_quant(pid: int, location: int, qty: float, lot: int | bool, reserve: bool) -> None:
        row = quants.blank_row()
        row[qpos["product_id"]] = pid
        row[qpos["location_id"]] = location
        row[qpos["lot_id"]] = lot
        row[qpos["company_id"]] = 1
        row[qpos["quantity"]] = qty
        if reserve and qty >= 1:
            row[qpos["reserved_quantity"]] = float(rng.randint(1, int(qty)))
            counts["reserved"] += 1
        stamp = rng.choice(stamps)
        row[qpos["in_date"]] = stamp
        row[qpos["create_date"]] = stamp
        row[qpos["write_date"]] = rng.choice(stamps) if rng.random() < 0.5 else stamp
        row[qpos["create_uid"]] = row[qpos["write_uid"]] = 2
        quants.insert(row)
        counts["quants"] += 1

    def add_move(pid: int, uom: int, src: int, dest: int, qty: float) -> None:
        row = moves.blank_row()
        stamp = rng.choice(stamps)
        name = state.tables["product.product"].display_name_of(pid)
        row[mpos["name"]] = name
        row[mpos["reference"]] = name
        row[mpos["product_id"]] = pid
        row[mpos["product_uom_qty"]] = qty
        row[mpos["product_qty"]] = qty
        row[mpos["product_uom"]] = uom
        row[mpos["location_id"]] = src
        row[mpos["location_dest_id"]] = dest
        row[mpos["state"]] = "done"
        row[mpos["date"]] = stamp
        row[mpos["company_id"]] = 1
        row[mpos[qty_field]] = qty
        if "picked" in mpos:
            row[mpos["picked"]] = True
        row[mpos["create_date"]] = row[mpos["write_date"]] = stamp
        row[mpos["create_uid"]] = row[mpos["write_uid"]] = 2
        moves.insert(row)
        counts["moves"] += 1

    def quantity(uom: int) -> float:
        if rng.random() < 0.02:
            return 0.0
        high = 500 if uom == setup["uom"]["units"] else 40
        return float(rng.randint(1, high))

    for pid, uom, tracked in products["stocked"]:
        lot_ids: list[int | bool] = [False]
        if tracked:
            lot_ids = []
            for n in range(1, rng.randint(1, 3) + 1):
                lrow = lots.blank_row()
                lrow[lpos["name"]] = f"LOT-{pid:06d}-{n}"
                lrow[lpos["product_id"]] = pid
                lrow[lpos["company_id"]] = 1
                lrow[lpos["create_date"]] = lrow[lpos["write_date"]] = created
                lrow[lpos["create_uid"]] = lrow[lpos["write_uid"]] = 2
                lot_ids.append(lots.insert(lrow))
                counts["lots"] += 1
        for wh in warehouses:
            roll = rng.random()
            location = wh["stock"] if roll < 0.5 else wh["shelf1"] if roll < 0.75 else wh["shelf2"]
            for lot in lot_ids:
                add_quant(pid, location, quantity(uom), lot, rng.random() < 0.10)
        if rng.random() < 0.05:
            wh = rng.choice(warehouses)
            add_quant(
                pid,
                rng.choice((wh["qc"], wh["damaged"])),
                float(rng.randint(1, 20)),
                lot_ids[0],
                False,
            )
        if rng.random() < 0.03:
            wh = rng.choice(warehouses)
            add_quant(pid, wh["transit"], float(rng.randint(1, 50)), lot_ids[0], False)
        if rng.random() < 0.10:
            wh = rng.choice(warehouses)
            qty = float(rng.randint(10, 200))
            add_move(pid, uom, setup["locations"]["vendors"], wh["stock"], qty)
            partner_quants.setdefault((pid, setup["locations"]["vendors"]), [lot_ids[0], 0.0])
            partner_quants[(pid, setup["locations"]["vendors"])][1] -= qty
        if rng.random() < 0.05:
            wh = rng.choice(warehouses)
            qty = float(rng.randint(1, 20))
            add_move(pid, uom, wh["stock"], setup["locations"]["customers"], qty)
            partner_quants.setdefault((pid, setup["locations"]["customers"]), [lot_ids[0], 0.0])
            partner_quants[(pid, setup["locations"]["customers"])][1] += qty
    for (pid, location), (lot, qty) in partner_quants.items():
        add_quant(pid, location, qty, lot, False)
    return counts


def _supply(
    state: OdooState, rng: random.Random, setup: dict[str, Any], supply_from: datetime
) -> dict[str, Any]:
    """Vendors and their prices, the drop-ship route, purchase orders and a partial receipt."""
    profile = state.profile

    def create(model: str, vals: dict[str, Any]) -> int:
        return state.call(model, "create", [vals])

    locations = setup["locations"]
    state.add_xmlid("stock.stock_location_suppliers", "stock.location", locations["vendors"])
    state.add_xmlid("stock.stock_location_customers", "stock.location", locations["customers"])
    state.add_xmlid("stock.warehouse0", "stock.warehouse", setup["warehouses"]["MAIN"]["id"])
    state.add_xmlid("uom.product_uom_unit", "uom.uom", setup["uom"]["units"])
    state.add_xmlid("uom.product_uom_dozen", "uom.uom", setup["uom"]["dozens"])

    # stock_dropshipping: a company-wide operation type and the route sale lines choose
    dropship_type = create(
        "stock.picking.type",
        {
            "name": "Dropship",
            "code": profile.dropship_picking_code,
            "sequence_code": "DS",
            "default_location_src_id": locations["vendors"],
            "default_location_dest_id": locations["customers"],
        },
    )
    route = state.insert(
        "stock.route",
        {
            "name": "Dropship",
            "sequence": 20,
            "sale_selectable": True,
            "product_selectable": True,
            "company_id": False,
        },
    )
    state.add_xmlid("stock_dropshipping.route_drop_shipping", "stock.route", route, noupdate=True)

    vendors = {VENDOR: setup["vendor"]}
    for name in VENDOR_CODES:
        if name not in vendors:
            vendors[name] = create(
                "res.partner", {"name": name, "supplier_rank": 1, "is_company": True}
            )
    offered = _vendor_prices(state, rng, vendors)
    orders = _purchase_orders(state, rng, setup, offered, supply_from)
    return {
        "vendors": vendors,
        "dropship_route": route,
        "dropship_type": dropship_type,
        **orders,
    }


def _vendor_prices(
    state: OdooState, rng: random.Random, vendors: dict[str, int]
) -> dict[int, list[int]]:
    """``product.supplierinfo`` for ~30% of the stocked templates; vendor id -> its variants."""
    templates = state.tables["product.template"]
    variants = state.tables["product.product"]
    tpos, ppos = templates.pos, variants.pos
    by_template = variants.indexes["product_tmpl_id"].map
    eligible = [
        tid
        for tid in templates.ids
        if templates.records[tid][tpos["active"]]
        and state.is_storable(by_template[tid][0])
        and all(variants.records[pid][ppos["default_code"]] for pid in by_template[tid])
    ]
    chosen = [tid for tid in eligible if rng.random() < 0.30]
    wanted = 10 * len(chosen) + 8
    # six-digit codes while they suffice (the demo data of every catalog up to ~300,000 SKUs
    # is what it always was), more digits past that
    numbers = rng.sample(range(100, max(999_999, 100 + 3 * wanted)), wanted)
    offered: dict[int, list[int]] = {vid: [] for vid in vendors.values()}
    names = list(vendors)
    spread_over_variants = next((t for t in chosen if len(by_template[t]) > 1), None)
    # ~3% without a code, and one at least however small the catalog
    without_code = chosen[len(chosen) // 2] if chosen else None

    def price_row(name: str, tid: int, pid: int | bool, sequence: int) -> None:
        pattern, (fastest, slowest) = VENDOR_CODES[name]
        code: str | bool = pattern.format(n=numbers.pop(), letter=chr(ord("A") + rng.randrange(26)))
        if rng.random() < 0.03 or (tid == without_code and sequence == 1):
            code = False
        cost = templates.records[tid][tpos["standard_price"]]
        values: dict[str, Any] = {
            "partner_id": vendors[name],
            "product_tmpl_id": tid,
            "product_id": pid,
            "product_code": code,
            "product_name": False,
            "sequence": sequence,
            "min_qty": rng.choice((0.0, 0.0, 0.0, 1.0, 6.0, 12.0)),
            "price": round(cost * rng.uniform(0.6, 0.9), 2),
            "delay": rng.randint(fastest, slowest),
            "company_id": 1,
        }
        if state.profile.supplierinfo_uom_field == "uom_id":
            values["uom_id"] = templates.records[tid][tpos["uom_id"]]
        state.insert("product.supplierinfo", values)
        offered[vendors[name]].extend([pid] if pid else by_template[tid])

    for tid in chosen:
        first = rng.choice(names)
        second = rng.choice([n for n in names if n != first]) if rng.random() < 0.20 else None
        pids = by_template[tid]
        for sequence, name in enumerate(filter(None, (first, second)), start=1):
            if len(pids) == 1:
                price_row(name, tid, False, sequence)
            else:
                for pid in pids:
                    price_row(name, tid, pid, sequence)
        if tid == spread_over_variants:
            price_row(first, tid, False, 3)  # one code for every size: no single SKU
    return {vid: sorted(set(pids)) for vid, pids in offered.items()}


def _purchase_orders(
    state: OdooState,
    rng: random.Random,
    setup: dict[str, Any],
    offered: dict[int, list[int]],
    supply_from: datetime,
) -> dict[str, Any]:
    """Confirmed orders planned over the coming weeks, one partly received, and the dirt a
    reader must leave out (fully received, cancelled, not confirmed)."""
    warehouses = state.tables["stock.warehouse"]
    receipt_types = [
        warehouses.records[setup["warehouses"][code]["id"]][warehouses.pos["in_type_id"]]
        for code, _name in WAREHOUSES
    ]
    uom_field = state.profile.purchase_line_uom_field
    stocked = [vid for vid, pids in offered.items() if len(pids) >= 2]
    if not stocked:
        return {"purchase_orders": []}
    units = setup["uom"]["units"]

    def order(n: int, vendor: int) -> int:
        pids = rng.sample(offered[vendor], min(len(offered[vendor]), rng.randint(2, 5)))
        lines = []
        for pid in pids:
            in_units = state.product_uom(pid) == units
            planned = supply_from + timedelta(days=rng.randint(3, 35), hours=rng.randint(6, 17))
            lines.append(
                (
                    0,
                    0,
                    {
                        "product_id": pid,
                        "product_qty": float(
                            rng.randint(6, 120) if in_units else rng.randint(1, 10)
                        ),
                        uom_field: state.product_uom(pid),
                        "date_planned": planned.strftime("%Y-%m-%d %H:%M:%S"),
                    },
                )
            )
        return state.call(
            "purchase.order",
            "create",
            [
                {
                    "partner_id": vendor,
                    "picking_type_id": receipt_types[n % len(receipt_types)],
                    "order_line": lines,
                }
            ],
        )

    confirmed = [
        order(n, rng.choice(stocked))
        for n in range(max(4, min(12, len(state.tables["product.product"].ids) // 200)))
    ]
    state.call("purchase.order", "button_confirm", [confirmed])
    lines = state.tables["purchase.order.line"]
    first_lines = [lines.records[lid] for lid in lines.indexes["order_id"].map[confirmed[0]]]
    pid = lines.pos["product_id"]
    qty = lines.pos["product_uom_qty"]
    partial = {first_lines[0][pid]: max(1.0, float(int(first_lines[0][qty] / 2)))}
    partial.update({line[pid]: line[qty] for line in first_lines[2:]})
    state.receive_purchase(confirmed[0], partial)

    received = order(len(confirmed), rng.choice(stocked))
    state.call("purchase.order", "button_confirm", [[received]])
    state.receive_purchase(received)
    cancelled = order(len(confirmed) + 1, rng.choice(stocked))
    state.call("purchase.order", "button_cancel", [[cancelled]])
    rfq = order(len(confirmed) + 2, rng.choice(stocked))
    return {
        "purchase_orders": confirmed,
        "partly_received": confirmed[0],
        "fully_received": received,
        "cancelled": cancelled,
        "rfq": rfq,
    }
