"""Model rules of the emulated Odoo: defaults, stored computations, stock and sales logic.

These are the behaviours connectors observe through the API:

- ``sale.order.action_confirm`` creates one delivery picking per order (``<WH>/OUT/00001``),
  a ``stock.move`` per goods line, and reserves storable goods on quants: ``reserved_quantity``
  grows on internal quants under the warehouse's stock location, oldest ``in_date`` first,
  skipping quality-hold locations (:attr:`OdooState.hold_location_ids`), owned and package
  quants being taken like any other.
- ``sale.order.action_cancel`` returns the ``sale.order.cancel`` wizard action for any
  non-draft order unless the context has ``disable_cancel_warning``; cancelling cancels the
  pickings not done and releases their reservations.
- Inventory adjustments (:func:`adjust_stock`, ``stock.quant.action_apply_inventory``) change the
  quant, stamp its ``write_date``, write a done move from or to
  ``Virtual Locations/Inventory adjustment`` and keep the counterpart quant there, as Odoo does.
- Product quantities (``qty_available``, ``free_qty``, ``virtual_available``...) are computed
  from quants under the warehouses' view locations, restricted by the context keys ``location``
  and ``warehouse`` (16/17) or ``warehouse_id`` (18/19).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import domain as dom
from . import purchase
from .errors import UserError

if TYPE_CHECKING:
    from .models import Env, OdooState

ACTIVE_MOVE_STATES = frozenset({"waiting", "confirmed", "partially_available", "assigned"})


def _round(value: float) -> float:
    return round(value, 6) + 0.0


# -- create / write hooks -------------------------------------------------------------------------


def before_create(env: Env, vals: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults Odoo computes from other values, before the row is built."""
    state = env.state
    model = env.model
    profile = state.profile
    if model == "product.template":
        _sync_product_type(profile.major, vals)
        vals.setdefault("uom_id", default_uom(state))
        if profile.uom_categories:
            vals.setdefault("uom_po_id", vals["uom_id"])
    elif model == "product.product" and not vals.get("product_tmpl_id"):
        # product.product _inherits product.template: template values create the template
        templates = state.tables["product.template"]
        tmpl_vals = {
            k: v
            for k, v in vals.items()
            if k in templates.fields
            and (
                k not in state.tables["product.product"].fields
                or state.tables["product.product"].fields[k].related
            )
        }
        for key in ("default_code", "barcode"):
            if key in vals:
                tmpl_vals[key] = vals[key]
        tmpl_env = env.for_model("product.template").with_context(create_product_product=False)
        vals = {
            k: v for k, v in vals.items() if not state.tables["product.product"].fields[k].related
        }
        vals["product_tmpl_id"] = state.create(tmpl_env, tmpl_vals)
    elif model == "stock.move":
        product_id = vals.get("product_id")
        if product_id:
            vals.setdefault("product_uom", state.product_uom(int(product_id)))
            vals.setdefault("name", state.tables["product.product"].display_name_of(product_id))
        vals.setdefault("date", state.now())
    elif model == "stock.picking":
        type_id = vals.get("picking_type_id")
        if type_id:
            types = state.tables["stock.picking.type"]
            row = state.row("stock.picking.type", int(type_id))
            vals.setdefault("location_id", row[types.pos["default_location_src_id"]])
            vals.setdefault("location_dest_id", row[types.pos["default_location_dest_id"]])
            if not vals.get("name"):
                warehouse = row[types.pos["warehouse_id"]]
                # a type of no warehouse (drop-ship) numbers on its own sequence: DS/00001
                prefix = f"{row[types.pos['sequence_code']]}/"
                if warehouse:
                    prefix = f"{state.get('stock.warehouse', warehouse, 'code')}/{prefix}"
                vals["name"] = f"{prefix}{state.next_sequence(prefix):05d}"
        vals.setdefault("scheduled_date", state.now())
    elif model == "sale.order":
        if not vals.get("name"):
            vals["name"] = f"S{state.next_sequence('sale.order'):05d}"
        vals.setdefault("date_order", state.now())
        partner = vals.get("partner_id")
        vals.setdefault("partner_invoice_id", partner)
        vals.setdefault("partner_shipping_id", partner)
        vals.setdefault("user_id", env.uid)
        if not vals.get("warehouse_id"):
            warehouses = state.tables["stock.warehouse"]
            if warehouses.ids:
                vals["warehouse_id"] = warehouses.ids[0]
    elif model == "sale.order.line":
        product_id = vals.get("product_id")
        uom_field = profile.sale_line_uom_field
        if product_id:
            product_id = int(product_id)
            vals.setdefault(uom_field, state.product_uom(product_id))
            vals.setdefault("name", state.tables["product.product"].display_name_of(product_id))
            if "price_unit" not in vals:
                tmpl = state.get("product.product", product_id, "product_tmpl_id")
                vals["price_unit"] = state.get("product.template", tmpl, "list_price")
        vals["price_subtotal"] = _round(
            float(vals.get("product_uom_qty", 1.0)) * float(vals.get("price_unit") or 0.0)
        )
    elif model == "stock.quant":
        vals.setdefault("in_date", state.now())
    elif model == "purchase.order":
        vals = purchase.before_create_order(env, vals)
    elif model == "purchase.order.line":
        vals = purchase.before_create_line(env, vals)
    elif model == "product.supplierinfo":
        vals = purchase.before_create_supplierinfo(env, vals)
    elif model == "ir.model.data":
        vals["complete_name"] = f"{vals.get('module') or ''}.{vals.get('name') or ''}"
    elif model == "ir.actions.server":
        from .automation import before_create as action_defaults

        vals = action_defaults(env, vals)
    elif model == "uom.uom" and not profile.uom_categories:
        ref = vals.get("relative_uom_id")
        base = state.get("uom.uom", int(ref), "factor") if ref else 1.0
        vals["factor"] = float(vals.get("relative_factor", 1.0)) * base
    elif model == "uom.uom":
        factor = float(vals.get("factor", 1.0)) or 1.0
        vals["factor_inv"] = 1.0 / factor
    return vals


def after_create(env: Env, row: list, vals: dict[str, Any]) -> None:
    """Maintain what Odoo stores from other records once the row exists."""
    state = env.state
    model = env.model
    rid = row[0]
    if model == "stock.location":
        _refresh_location_paths(state, rid)
    elif model == "product.category":
        _refresh_category_paths(state, rid)
    elif model == "uom.uom" and not state.profile.uom_categories:
        uoms = state.tables["uom.uom"]
        parent = row[uoms.pos["relative_uom_id"]]
        prefix = state.get("uom.uom", parent, "parent_path") if parent else ""
        row[uoms.pos["parent_path"]] = f"{prefix}{rid}/"
    elif model == "stock.warehouse":
        _refresh_location_warehouses(state)
    elif model == "product.template" and env.context.get("create_product_product", True):
        templates = state.tables["product.template"]
        state.create(
            env.for_model("product.product"),
            {
                "product_tmpl_id": rid,
                "default_code": row[templates.pos["default_code"]],
                "barcode": row[templates.pos["barcode"]],
                "active": row[templates.pos["active"]],
            },
        )
    elif model == "sale.order.line":
        lines = state.tables["sale.order.line"]
        _refresh_order_amounts(state, row[lines.pos["order_id"]])
    elif model == "sale.order":
        _refresh_order_amounts(state, rid)
    elif model == "purchase.order.line":
        purchase.after_create_line(env, row)
    elif model == "stock.move":
        moves = state.tables["stock.move"]
        product = row[moves.pos["product_id"]]
        qty = state.convert_qty(
            row[moves.pos["product_uom_qty"]],
            row[moves.pos["product_uom"]],
            state.product_uom(product),
        )
        row[moves.pos["product_qty"]] = qty


def before_write(env: Env, rows: list[list], vals: dict[str, Any]) -> dict[str, Any]:
    """Adjust values before a write (type sync, inventory flags, inherited template fields)."""
    state = env.state
    model = env.model
    if model == "product.template":
        _sync_product_type(state.profile.major, vals)
    elif model == "product.product":
        products = state.tables["product.product"]
        delegated = {k: v for k, v in vals.items() if products.fields[k].related}
        if delegated:
            tmpl_ids = sorted({row[products.pos["product_tmpl_id"]] for row in rows})
            state.write(env.for_model("product.template", tmpl_ids), delegated)
            vals = {k: v for k, v in vals.items() if k not in delegated}
    elif model == "stock.quant" and "inventory_quantity" in vals:
        vals.setdefault("inventory_quantity_set", True)
    elif model == "sale.order.line" and rows:
        lines = state.tables["sale.order.line"]
        for row in rows:
            qty = float(vals.get("product_uom_qty", row[lines.pos["product_uom_qty"]]))
            price = float(vals.get("price_unit", row[lines.pos["price_unit"]]))
            row[lines.pos["price_subtotal"]] = _round(qty * price)
    elif model == "uom.uom" and state.profile.uom_categories and "factor" in vals:
        vals["factor_inv"] = 1.0 / (float(vals["factor"]) or 1.0)
    elif model == "purchase.order.line" and rows:
        vals = purchase.before_write_line(env, rows, vals)
    elif model == "ir.model.data" and ({"module", "name"} & vals.keys()):
        data = state.tables["ir.model.data"]
        for row in rows:
            module = vals.get("module", row[data.pos["module"]]) or ""
            row[data.pos["complete_name"]] = f"{module}.{vals.get('name', row[data.pos['name']])}"
    return vals


def after_write(env: Env, rows: list[list], vals: dict[str, Any]) -> None:
    """Propagate a write to what depends on it (paths, display names, totals)."""
    state = env.state
    model = env.model
    if model == "stock.location" and ({"name", "location_id"} & vals.keys()):
        for row in rows:
            _refresh_location_paths(state, row[0])
        _refresh_location_warehouses(state)
    elif model == "product.category" and ({"name", "parent_id"} & vals.keys()):
        for row in rows:
            _refresh_category_paths(state, row[0])
    elif model == "product.template" and ({"name", "default_code"} & vals.keys()):
        products = state.tables["product.product"]
        index = products.indexes["product_tmpl_id"].map
        for row in rows:
            for pid in index.get(row[0], ()):
                products.refresh_display(products.records[pid])
    elif model == "sale.order.line":
        lines = state.tables["sale.order.line"]
        for order_id in {row[lines.pos["order_id"]] for row in rows}:
            _refresh_order_amounts(state, order_id)
    elif model == "stock.move" and ({"product_uom_qty", "product_uom"} & vals.keys()):
        moves = state.tables["stock.move"]
        for row in rows:
            row[moves.pos["product_qty"]] = state.convert_qty(
                row[moves.pos["product_uom_qty"]],
                row[moves.pos["product_uom"]],
                state.product_uom(row[moves.pos["product_id"]]),
            )
    elif model == "stock.warehouse" and "view_location_id" in vals:
        _refresh_location_warehouses(state)
    elif model == "purchase.order.line":
        purchase.after_write_line(env, rows, vals)


def before_unlink(env: Env, rows: list[list]) -> None:
    """Refuse deletions Odoo refuses; forget the external ids of what goes."""
    state = env.state
    if env.model == "purchase.order":
        orders = state.tables["purchase.order"]
        for row in rows:
            if row[orders.pos["state"]] not in ("draft", "cancel"):
                raise UserError("In order to delete a purchase order, you must cancel it first.")
    if env.model == "purchase.order.line":
        lines = state.tables["purchase.order.line"]
        labels = dict(state.profile.purchase_states)
        for row in rows:
            order_state = state.get("purchase.order", row[lines.pos["order_id"]], "state")
            if order_state in purchase.CONFIRMED:
                raise UserError(
                    "Cannot delete a purchase order line which is in state "
                    f"“{labels[order_state]}”."
                )
    if env.model == "sale.order":
        orders = state.tables["sale.order"]
        for row in rows:
            if row[orders.pos["state"]] not in ("draft", "cancel"):
                raise UserError(
                    "You can not delete a sent quotation or a confirmed sales order. "
                    "You must first cancel it."
                )
    if env.model == "stock.move":
        for row in rows:
            release_move(state, row)
    if env.model != "ir.model.data":
        _forget_xmlids(state, env.model, {row[0] for row in rows})


def _forget_xmlids(state: OdooState, model: str, ids: set[int]) -> None:
    """Odoo's ``unlink`` deletes the ``ir.model.data`` entries of the records it deletes."""
    data = state.tables["ir.model.data"]
    if not data.records or not ids:
        return
    pos = data.pos
    for rid in [
        rid
        for rid in data.indexes["model"].map.get(model, ())
        if data.records[rid][pos["res_id"]] in ids
    ]:
        data.delete(rid)


def _sync_product_type(major: int, vals: dict[str, Any]) -> None:
    if major > 17:
        return
    if "detailed_type" in vals and "type" not in vals:
        vals["type"] = vals["detailed_type"]
    elif "type" in vals and "detailed_type" not in vals:
        vals["detailed_type"] = vals["type"]


def default_uom(state: OdooState) -> int | bool:
    """The reference unit ("Units"), or the first unit there is."""
    uoms = state.tables["uom.uom"]
    ids = [rid for rid in uoms.ids if uoms.records[rid][uoms.pos["name"]] == "Units"]
    if ids:
        return ids[0]
    return uoms.ids[0] if uoms.ids else False


def _refresh_location_paths(state: OdooState, root_id: int) -> None:
    locations = state.tables["stock.location"]
    pos = locations.pos
    parent_index = locations.indexes["location_id"].map
    stack = [root_id]
    while stack:
        rid = stack.pop()
        row = locations.records[rid]
        parent = row[pos["location_id"]]
        parent_row = locations.records.get(parent) if parent else None
        if parent_row is not None and row[pos["usage"]] != "view":
            complete = f"{parent_row[pos['complete_name']]}/{row[pos['name']]}"
        else:
            complete = row[pos["name"]]
        locations.set_value(row, locations.fields["complete_name"], complete)
        prefix = parent_row[pos["parent_path"]] if parent_row is not None else ""
        locations.set_value(row, locations.fields["parent_path"], f"{prefix}{rid}/")
        locations.refresh_display(row)
        stack.extend(parent_index.get(rid, ()))


def _refresh_location_warehouses(state: OdooState) -> None:
    """A location belongs to the warehouse whose view location is among its ancestors."""
    locations = state.tables["stock.location"]
    warehouses = state.tables["stock.warehouse"]
    pos = locations.pos
    by_view = {
        row[warehouses.pos["view_location_id"]]: rid for rid, row in warehouses.records.items()
    }
    f = locations.fields["warehouse_id"]
    for row in locations.records.values():
        path = row[pos["parent_path"]] or ""
        found: Any = False
        for part in path.rstrip("/").split("/"):
            if part and int(part) in by_view:
                found = by_view[int(part)]
        if row[f.pos] != found:
            locations.set_value(row, f, found)


def _refresh_category_paths(state: OdooState, root_id: int) -> None:
    categories = state.tables["product.category"]
    pos = categories.pos
    children = categories.indexes["parent_id"].map
    stack = [root_id]
    while stack:
        rid = stack.pop()
        row = categories.records[rid]
        parent = categories.records.get(row[pos["parent_id"]]) if row[pos["parent_id"]] else None
        if parent is not None:
            row[pos["complete_name"]] = f"{parent[pos['complete_name']]} / {row[pos['name']]}"
            row[pos["parent_path"]] = f"{parent[pos['parent_path']]}{rid}/"
        else:
            row[pos["complete_name"]] = row[pos["name"]]
            row[pos["parent_path"]] = f"{rid}/"
        categories.refresh_display(row)
        stack.extend(children.get(rid, ()))


def _refresh_order_amounts(state: OdooState, order_id: int) -> None:
    orders = state.tables["sale.order"]
    lines = state.tables["sale.order.line"]
    row = orders.records.get(order_id)
    if row is None:
        return
    total = sum(
        lines.records[lid][lines.pos["price_subtotal"]]
        for lid in lines.indexes["order_id"].map.get(order_id, ())
    )
    row[orders.pos["amount_untaxed"]] = _round(total)
    row[orders.pos["amount_total"]] = _round(total)


# -- computed fields ------------------------------------------------------------------------------


def computes(state: OdooState) -> dict[str, Any]:
    """The compute (and search) functions the schema's computed fields use."""

    def uom_rounding(env: Env, rows: list[list]) -> dict[int, Any]:
        return {row[0]: 0.01 for row in rows}

    def product_variant_count(env: Env, rows: list[list]) -> dict[int, Any]:
        index = state.tables["product.product"].indexes["product_tmpl_id"].map
        return {row[0]: len(index.get(row[0], ())) for row in rows}

    def template_qty_available(env: Env, rows: list[list]) -> dict[int, Any]:
        index = state.tables["product.product"].indexes["product_tmpl_id"].map
        product_ids = [pid for row in rows for pid in index.get(row[0], ())]
        quantities = product_quantities(env, product_ids)
        return {
            row[0]: _round(sum(quantities[pid][0] for pid in index.get(row[0], ()))) for row in rows
        }

    def make_product_compute(slot: int) -> Any:
        def compute(env: Env, rows: list[list]) -> dict[int, Any]:
            quantities = product_quantities(env, [row[0] for row in rows])
            return {pid: values[slot] for pid, values in quantities.items()}

        def search(env: Env, op: str, value: Any) -> list[int]:
            products = state.tables["product.product"]
            quantities = product_quantities(env, list(products.ids))
            test = _comparator(op, value)
            return [pid for pid, values in quantities.items() if test(values[slot])]

        return compute, search

    def lot_product_qty(env: Env, rows: list[list]) -> dict[int, Any]:
        quants = state.tables["stock.quant"]
        locations = state.tables["stock.location"]
        index = quants.indexes["lot_id"].map
        usage = locations.pos["usage"]
        out = {}
        for row in rows:
            total = 0.0
            for qid in index.get(row[0], ()):
                q = quants.records[qid]
                if locations.records[q[quants.pos["location_id"]]][usage] == "internal":
                    total += q[quants.pos["quantity"]]
            out[row[0]] = _round(total)
        return out

    def quant_available_quantity(env: Env, rows: list[list]) -> dict[int, Any]:
        pos = state.tables["stock.quant"].pos
        q_pos, r_pos = pos["quantity"], pos["reserved_quantity"]
        return {row[0]: _round(row[q_pos] - row[r_pos]) for row in rows}

    def quant_inventory_diff(env: Env, rows: list[list]) -> dict[int, Any]:
        pos = state.tables["stock.quant"].pos
        q_pos, i_pos = pos["quantity"], pos["inventory_quantity"]
        s_pos = pos["inventory_quantity_set"]
        return {row[0]: _round(row[i_pos] - row[q_pos]) if row[s_pos] else 0.0 for row in rows}

    def move_reserved_availability(env: Env, rows: list[list]) -> dict[int, Any]:
        return {
            row[0]: _round(sum(qty for _qid, qty in state.reservations.get(row[0], ())))
            for row in rows
        }

    def sale_delivery_count(env: Env, rows: list[list]) -> dict[int, Any]:
        index = state.tables["stock.picking"].indexes["sale_id"].map
        return {row[0]: len(index.get(row[0], ())) for row in rows}

    def sale_line_qty_delivered(env: Env, rows: list[list]) -> dict[int, Any]:
        moves = state.tables["stock.move"]
        locations = state.tables["stock.location"]
        index = moves.indexes["sale_line_id"].map
        out = {}
        for row in rows:
            total = 0.0
            for mid in index.get(row[0], ()):
                move = moves.records[mid]
                if move[moves.pos["state"]] != "done":
                    continue
                dest = locations.records[move[moves.pos["location_dest_id"]]]
                sign = 1.0 if dest[locations.pos["usage"]] == "customer" else -1.0
                total += sign * move[moves.pos["product_uom_qty"]]
            out[row[0]] = _round(total)
        return out

    def supplierinfo_variant_count(env: Env, rows: list[list]) -> dict[int, Any]:
        pos = state.tables["product.supplierinfo"].pos["product_tmpl_id"]
        index = state.tables["product.product"].indexes["product_tmpl_id"].map
        return {row[0]: len(index.get(row[pos], ())) for row in rows}

    def picking_is_dropship(env: Env, rows: list[list]) -> dict[int, Any]:
        pickings = state.tables["stock.picking"]
        usage = state.tables["stock.location"]
        src, dest, kind = pickings.pos["location_id"], pickings.pos["location_dest_id"], usage.pos
        return {
            row[0]: usage.records[row[src]][kind["usage"]] == "supplier"
            and usage.records[row[dest]][kind["usage"]] == "customer"
            for row in rows
        }

    def purchase_incoming_picking_count(env: Env, rows: list[list]) -> dict[int, Any]:
        pos = state.tables["purchase.order"].pos["picking_ids"]
        return {row[0]: len(row[pos]) for row in rows}

    def sale_purchase_order_count(env: Env, rows: list[list]) -> dict[int, Any]:
        return {row[0]: len(purchase.purchase_orders_of_sale(state, row[0])) for row in rows}

    functions: dict[str, Any] = {
        "supplierinfo_variant_count": supplierinfo_variant_count,
        "picking_is_dropship": picking_is_dropship,
        "purchase_incoming_picking_count": purchase_incoming_picking_count,
        "sale_purchase_order_count": sale_purchase_order_count,
        "uom_rounding": uom_rounding,
        "product_variant_count": product_variant_count,
        "template_qty_available": template_qty_available,
        "lot_product_qty": lot_product_qty,
        "quant_available_quantity": quant_available_quantity,
        "quant_inventory_diff": quant_inventory_diff,
        "move_reserved_availability": move_reserved_availability,
        "sale_delivery_count": sale_delivery_count,
        "sale_line_qty_delivered": sale_line_qty_delivered,
    }
    for slot, name in enumerate(
        ("qty_available", "free_qty", "virtual_available", "incoming_qty", "outgoing_qty")
    ):
        compute, search = make_product_compute(slot)
        functions[name] = compute
        functions[name + "_search"] = search
    return functions


def _comparator(op: str, value: Any) -> Any:
    value = float(value or 0.0)
    return {
        "=": lambda x: x == value,
        "!=": lambda x: x != value,
        ">": lambda x: x > value,
        ">=": lambda x: x >= value,
        "<": lambda x: x < value,
        "<=": lambda x: x <= value,
    }.get(op, lambda x: False)


def _context_ids(state: OdooState, model: str, value: Any) -> set[int]:
    """Odoo's ``_search_ids``: ints are ids, strings match the record name (ilike)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    table = state.tables[model]
    out: set[int] = set()
    for item in values:
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            out.add(item)
        elif isinstance(item, str):
            regex = dom.like_matcher("ilike", item)
            out.update(rid for rid in table.ids if regex.match(table.display_name_of(rid)))
    return out


def quantity_locations(env: Env) -> set[int]:
    """The locations product quantities count, per the context (warehouse, location)."""
    state = env.state
    warehouses = state.tables["stock.warehouse"]
    view_pos = warehouses.pos["view_location_id"]
    ctx = env.context
    warehouse = ctx.get(state.profile.qty_warehouse_key)
    location = ctx.get("location")
    if warehouse:
        roots = {
            warehouses.records[w][view_pos]
            for w in _context_ids(state, "stock.warehouse", warehouse)
            if w in warehouses.records
        }
        allowed = set().union(*(state.location_subtree(r) for r in roots)) if roots else set()
        if location:
            chosen = set().union(
                *(
                    state.location_subtree(loc)
                    for loc in _context_ids(state, "stock.location", location)
                    if loc in state.tables["stock.location"].records
                )
            )
            allowed &= chosen
        return allowed
    if location:
        return set().union(
            *(
                state.location_subtree(loc)
                for loc in _context_ids(state, "stock.location", location)
                if loc in state.tables["stock.location"].records
            )
        )
    roots = {row[view_pos] for row in warehouses.records.values()}
    return set().union(*(state.location_subtree(r) for r in roots)) if roots else set()


def product_quantities(
    env: Env, product_ids: list[int]
) -> dict[int, tuple[float, float, float, float, float]]:
    """Per product: (qty_available, free_qty, virtual_available, incoming, outgoing)."""
    state = env.state
    allowed = quantity_locations(env)
    quants = state.tables["stock.quant"]
    moves = state.tables["stock.move"]
    qpos = quants.pos
    mpos = moves.pos
    quant_index = quants.indexes["product_id"].map
    move_index = moves.indexes["product_id"].map
    out: dict[int, tuple[float, float, float, float, float]] = {}
    for pid in product_ids:
        on_hand = free = incoming = outgoing = 0.0
        for qid in quant_index.get(pid, ()):
            q = quants.records[qid]
            if q[qpos["location_id"]] in allowed:
                on_hand += q[qpos["quantity"]]
                free += q[qpos["quantity"]] - q[qpos["reserved_quantity"]]
        for mid in move_index.get(pid, ()):
            m = moves.records[mid]
            if m[mpos["state"]] not in ACTIVE_MOVE_STATES:
                continue
            src_in = m[mpos["location_id"]] in allowed
            dest_in = m[mpos["location_dest_id"]] in allowed
            if dest_in and not src_in:
                incoming += m[mpos["product_qty"]]
            elif src_in and not dest_in:
                outgoing += m[mpos["product_qty"]]
        out[pid] = (
            _round(on_hand),
            _round(free),
            _round(on_hand + incoming - outgoing),
            _round(incoming),
            _round(outgoing),
        )
    return out


# -- quants ---------------------------------------------------------------------------------------


def lot_id(state: OdooState, product_id: int, lot: int | str | None, create: bool) -> int | bool:
    """A lot id from an id or a name (created for the product when asked)."""
    if not lot:
        return False
    lots = state.tables["stock.lot"]
    if isinstance(lot, int):
        state.row("stock.lot", lot)
        return lot
    for rid in lots.indexes["name"].map.get(lot, ()):
        if lots.records[rid][lots.pos["product_id"]] == product_id:
            return rid
    if not create:
        raise UserError(f"No lot {lot!r} for product {product_id}")
    return state.insert("stock.lot", {"name": lot, "product_id": product_id, "company_id": 1})


def find_quant(
    state: OdooState, product_id: int, location_id: int, lot: int | bool = False
) -> int | None:
    """The first unowned, unpackaged quant of a product in a location and lot."""
    quants = state.tables["stock.quant"]
    pos = quants.pos
    for qid in quants.indexes["product_id"].map.get(product_id, ()):
        q = quants.records[qid]
        if (
            q[pos["location_id"]] == location_id
            and q[pos["lot_id"]] == lot
            and not q[pos["package_id"]]
            and not q[pos["owner_id"]]
        ):
            return qid
    return None


def update_available_quantity(
    state: OdooState, product_id: int, location_id: int, delta: float, lot: int | bool = False
) -> int:
    """Odoo's ``_update_available_quantity``: add to (or create) the quant; stamps it."""
    quants = state.tables["stock.quant"]
    qid = find_quant(state, product_id, location_id, lot)
    if qid is None:
        return state.insert(
            "stock.quant",
            {
                "product_id": product_id,
                "location_id": location_id,
                "lot_id": lot,
                "company_id": 1,
                "quantity": _round(delta),
                "in_date": state.now(),
            },
        )
    row = quants.records[qid]
    state.touch("stock.quant", row, {"quantity": _round(row[quants.pos["quantity"]] + delta)})
    return qid


def special_location(state: OdooState, usage: str) -> int:
    """The first active location with this usage (customers, vendors, inventory loss)."""
    locations = state.tables["stock.location"]
    for rid in locations.indexes["usage"].map.get(usage, ()):
        row = locations.records[rid]
        if row[locations.pos["active"]] and not (
            "scrap_location" in locations.pos and row[locations.pos["scrap_location"]]
        ):
            return rid
    raise UserError(f"No location of type {usage!r}")


def adjust_stock(
    state: OdooState,
    product: int | str,
    location: int | str,
    delta: float,
    lot: int | str | None,
    reference: str,
) -> dict[str, Any]:
    """An inventory adjustment of ``delta`` (product UoM) at a location; returns the records."""
    product_id = state.product_id(product)
    location_id = state.location_id(location)
    lot_ref = lot_id(state, product_id, lot, create=True)
    inventory = special_location(state, "inventory")
    qid = update_available_quantity(state, product_id, location_id, delta, lot_ref)
    update_available_quantity(state, product_id, inventory, -delta, lot_ref)
    source, dest = (inventory, location_id) if delta >= 0 else (location_id, inventory)
    move_id = create_done_move(state, product_id, source, dest, abs(delta), lot_ref, reference)
    quants = state.tables["stock.quant"]
    row = quants.records[qid]
    return {
        "quant_id": qid,
        "move_id": move_id,
        "quantity": row[quants.pos["quantity"]],
        "write_date": row[quants.pos["write_date"]],
    }


def create_done_move(
    state: OdooState,
    product_id: int,
    source: int,
    dest: int,
    qty: float,
    lot: int | bool,
    reference: str,
    *,
    is_inventory: bool = True,
) -> int:
    """A ``done`` stock.move as inventory adjustments leave them."""
    qty_field = state.profile.move_quantity_field
    vals: dict[str, Any] = {
        "name": reference,
        "reference": reference,
        "product_id": product_id,
        "product_uom_qty": _round(qty),
        "product_qty": _round(qty),
        "product_uom": state.product_uom(product_id),
        "location_id": source,
        "location_dest_id": dest,
        "state": "done",
        "date": state.now(),
        "company_id": 1,
        "is_inventory": is_inventory,
        "lot_ids": (lot,) if lot else (),
        qty_field: _round(qty),
    }
    if qty_field == "quantity":
        vals["picked"] = True
    return state.insert("stock.move", vals)


# -- reservations ---------------------------------------------------------------------------------


def reservable_locations(state: OdooState, location_id: int) -> set[int]:
    """Internal locations under ``location_id`` that reservations may take from."""
    locations = state.tables["stock.location"]
    pos = locations.pos
    out = set()
    for rid in state.location_subtree(location_id):
        row = locations.records[rid]
        if row[pos["usage"]] != "internal" or rid in state.hold_location_ids:
            continue
        if "scrap_location" in pos and row[pos["scrap_location"]]:
            continue
        out.add(rid)
    return out


def reserve_move(state: OdooState, move_row: list) -> float:
    """Reserve what is free for a move on quants, oldest first; returns the reserved qty."""
    moves = state.tables["stock.move"]
    quants = state.tables["stock.quant"]
    mpos, qpos = moves.pos, quants.pos
    move_id = move_row[0]
    product_id = move_row[mpos["product_id"]]
    already = sum(qty for _qid, qty in state.reservations.get(move_id, ()))
    needed = _round(move_row[mpos["product_qty"]] - already)
    if needed > 0:
        allowed = reservable_locations(state, move_row[mpos["location_id"]])
        candidates = [
            quants.records[qid]
            for qid in quants.indexes["product_id"].map.get(product_id, ())
            if quants.records[qid][qpos["location_id"]] in allowed
            and not quants.records[qid][qpos["owner_id"]]
        ]
        candidates.sort(key=lambda q: (q[qpos["in_date"]] or "", q[0]))
        taken = state.reservations.setdefault(move_id, [])
        for q in candidates:
            free = _round(q[qpos["quantity"]] - q[qpos["reserved_quantity"]])
            if free <= 0:
                continue
            take = min(free, needed)
            state.touch(
                "stock.quant", q, {"reserved_quantity": _round(q[qpos["reserved_quantity"]] + take)}
            )
            taken.append([q[0], take])
            needed = _round(needed - take)
            if needed <= 0:
                break
        if not taken:
            state.reservations.pop(move_id, None)
    reserved = _round(sum(qty for _qid, qty in state.reservations.get(move_id, ())))
    demand = move_row[mpos["product_qty"]]
    if reserved >= demand - 1e-9:
        new_state = "assigned"
    elif reserved > 0:
        new_state = "partially_available"
    else:
        new_state = "confirmed"
    values: dict[str, Any] = {"state": new_state}
    if state.profile.move_quantity_field == "quantity":
        values["quantity"] = state.convert_qty(
            reserved, state.product_uom(product_id), move_row[mpos["product_uom"]]
        )
    state.touch("stock.move", move_row, values)
    return reserved


def release_move(state: OdooState, move_row: list) -> None:
    """Give back a move's reservations to its quants."""
    quants = state.tables["stock.quant"]
    qpos = quants.pos
    for qid, qty in state.reservations.pop(move_row[0], ()):
        q = quants.records.get(qid)
        if q is None:
            continue
        state.touch(
            "stock.quant",
            q,
            {"reserved_quantity": max(0.0, _round(q[qpos["reserved_quantity"]] - qty))},
        )


def refresh_picking_state(state: OdooState, picking_id: int) -> None:
    """A picking's state from its moves (``direct`` shipping policy)."""
    pickings = state.tables["stock.picking"]
    moves = state.tables["stock.move"]
    row = pickings.records.get(picking_id)
    if row is None:
        return
    move_states = [
        moves.records[mid][moves.pos["state"]]
        for mid in moves.indexes["picking_id"].map.get(picking_id, ())
    ]
    if not move_states or all(s == "cancel" for s in move_states):
        new_state = "cancel"
    elif all(s in ("done", "cancel") for s in move_states):
        new_state = "done"
    elif any(s in ("assigned", "partially_available") for s in move_states):
        new_state = "assigned"
    elif all(s == "draft" for s in move_states):
        new_state = "draft"
    else:
        new_state = "confirmed"
    if row[pickings.pos["state"]] != new_state:
        values: dict[str, Any] = {"state": new_state}
        if new_state == "done":
            values["date_done"] = state.now()
        state.touch("stock.picking", row, values)


def cancel_moves(state: OdooState, move_ids: list[int]) -> None:
    """Cancel moves that are not done and release what they reserved."""
    moves = state.tables["stock.move"]
    pickings: set[int] = set()
    for mid in move_ids:
        row = moves.records[mid]
        if row[moves.pos["state"]] in ("done", "cancel"):
            continue
        release_move(state, row)
        values: dict[str, Any] = {"state": "cancel"}
        if state.profile.move_quantity_field == "quantity":
            values["quantity"] = 0.0
        state.touch("stock.move", row, values)
        if row[moves.pos["picking_id"]]:
            pickings.add(row[moves.pos["picking_id"]])
    for picking_id in pickings:
        refresh_picking_state(state, picking_id)


def _is_incoming(state: OdooState, move_row: list) -> bool:
    """Whether a move brings units from outside (a vendor, a customer): nothing to reserve."""
    locations = state.tables["stock.location"]
    source = move_row[state.tables["stock.move"].pos["location_id"]]
    return locations.records[source][locations.pos["usage"]] not in ("internal", "transit")


def _open_moves(state: OdooState, picking_id: int) -> list[int]:
    moves = state.tables["stock.move"]
    return [
        mid
        for mid in moves.indexes["picking_id"].map.get(picking_id, ())
        if moves.records[mid][moves.pos["state"]] not in ("done", "cancel")
    ]


def receipt_quantities(state: OdooState, picking_id: int) -> dict[int, float]:
    """What each open incoming move of a picking receives, in the product's unit.

    From 17 the move's ``quantity`` (set to the demand when the move is ready, lowered for a
    partial receipt); on 16 its ``quantity_done``, or the whole demand when no incoming move
    has one (Odoo 16 then offers an immediate transfer of everything).
    """
    moves = state.tables["stock.move"]
    mpos = moves.pos
    qty_field = state.profile.move_quantity_field
    incoming = [
        mid for mid in _open_moves(state, picking_id) if _is_incoming(state, moves.records[mid])
    ]
    immediate = qty_field == "quantity_done" and not any(
        moves.records[mid][mpos["quantity_done"]] for mid in incoming
    )
    out = {}
    for mid in incoming:
        row = moves.records[mid]
        if immediate:
            out[mid] = row[mpos["product_qty"]]
        else:
            out[mid] = state.convert_qty(
                row[mpos[qty_field]],
                row[mpos["product_uom"]],
                state.product_uom(row[mpos["product_id"]]),
            )
    return out


def receipt_shortfall(state: OdooState, picking_id: int) -> bool:
    """Whether validating the picking would leave incoming units to a backorder."""
    moves = state.tables["stock.move"]
    demand = moves.pos["product_qty"]
    return any(
        qty < moves.records[mid][demand] - 1e-9
        for mid, qty in receipt_quantities(state, picking_id).items()
    )


def validate_picking(state: OdooState, picking_id: int, backorder: bool = True) -> int | None:
    """Process a picking: outgoing moves with what is reserved, incoming moves with what is
    received (:func:`receipt_quantities`). What an incoming move does not receive goes to a
    backorder (a new transfer, ``backorder_id`` this one) or, without one, is cancelled.
    Purchase lines of the moves get their ``qty_received``. Returns the backorder's id."""
    moves = state.tables["stock.move"]
    mpos = moves.pos
    move_ids = _open_moves(state, picking_id)
    storable = {
        mid for mid in move_ids if state.is_storable(moves.records[mid][mpos["product_id"]])
    }
    incoming = {mid for mid in move_ids if _is_incoming(state, moves.records[mid])}
    received = receipt_quantities(state, picking_id)
    reserved_any = (
        any(state.reservations.get(mid) for mid in move_ids)
        or any(mid not in storable and mid not in incoming for mid in move_ids)
        or any(qty > 0 for qty in received.values())
    )
    if not reserved_any:
        raise UserError(
            "You cannot validate a transfer if no quantities are reserved nor done. "
            "To force the transfer, encode quantities."
        )
    quants = state.tables["stock.quant"]
    qpos = quants.pos
    qty_field = state.profile.move_quantity_field
    leftovers: list[tuple[list, float]] = []  # (move, units it did not receive, product unit)
    purchase_lines: set[int] = set()
    for mid in move_ids:
        row = moves.records[mid]
        product_id = row[mpos["product_id"]]
        dest = row[mpos["location_dest_id"]]
        if row[mpos["purchase_line_id"]]:
            purchase_lines.add(row[mpos["purchase_line_id"]])
        done = 0.0
        if mid in incoming:
            # from a vendor or a customer: the units arrive, nothing was reserved
            done = received[mid]
            rest = _round(row[mpos["product_qty"]] - done)
            if rest > 1e-9:
                leftovers.append((row, rest))
            if done <= 0:
                continue
            if mid in storable:
                update_available_quantity(state, product_id, dest, done, False)
                update_available_quantity(state, product_id, row[mpos["location_id"]], -done, False)
        elif mid in storable:
            for qid, qty in state.reservations.pop(mid, ()):
                q = quants.records.get(qid)
                if q is None:
                    continue
                state.touch(
                    "stock.quant",
                    q,
                    {
                        "quantity": _round(q[qpos["quantity"]] - qty),
                        "reserved_quantity": max(0.0, _round(q[qpos["reserved_quantity"]] - qty)),
                    },
                )
                update_available_quantity(state, product_id, dest, qty, q[qpos["lot_id"]])
                done += qty
        else:
            done = row[mpos["product_qty"]]
        if done <= 0:
            state.touch("stock.move", row, {"state": "cancel"})
            continue
        done_uom = state.convert_qty(done, state.product_uom(product_id), row[mpos["product_uom"]])
        values: dict[str, Any] = {"state": "done", qty_field: done_uom, "date": state.now()}
        if mid in incoming:
            values["product_uom_qty"] = done_uom
        if qty_field == "quantity":
            values["picked"] = True
        state.touch("stock.move", row, values)
        if mid in incoming:
            row[mpos["product_qty"]] = _round(done)
    backorder_id = None
    if leftovers:
        if backorder:
            backorder_id = _backorder(state, picking_id)
        for row, rest in leftovers:
            _carry_over(state, row, rest, backorder_id)
    refresh_picking_state(state, picking_id)
    if backorder_id is not None:
        refresh_picking_state(state, backorder_id)
        order_id = state.get("stock.picking", picking_id, "purchase_id")
        if order_id:
            purchase.add_backorder_to_order(state, order_id, backorder_id)
    if purchase_lines:
        purchase.refresh_received(state, purchase_lines)
    return backorder_id


def _backorder(state: OdooState, picking_id: int) -> int:
    """A new transfer for what a picking did not process (``backorder_id`` points back)."""
    from .models import Env

    pickings = state.tables["stock.picking"]
    original = pickings.records[picking_id]
    ppos = pickings.pos
    keep = (
        "picking_type_id",
        "partner_id",
        "origin",
        "location_id",
        "location_dest_id",
        "scheduled_date",
        "sale_id",
        "purchase_id",
        "company_id",
        "move_type",
    )
    vals = {name: original[ppos[name]] for name in keep}
    return state.create(
        Env(state, "stock.picking"), {**vals, "backorder_id": picking_id, "state": "draft"}
    )


def _carry_over(state: OdooState, move: list, rest: float, backorder_id: int | None) -> None:
    """The part of an incoming move not received: moved to the backorder (ready), or cancelled.
    A move that received nothing moves whole; one that received some is split."""
    from .models import Env

    moves = state.tables["stock.move"]
    mpos = moves.pos
    qty_field = state.profile.move_quantity_field
    rest_uom = state.convert_qty(
        rest, state.product_uom(move[mpos["product_id"]]), move[mpos["product_uom"]]
    )
    target = backorder_id or move[mpos["picking_id"]]
    reference = state.get("stock.picking", target, "name")
    after: dict[str, Any] = {"state": "assigned" if backorder_id else "cancel"}
    if qty_field == "quantity":
        after["quantity"] = rest_uom if backorder_id else 0.0
    else:
        after["quantity_done"] = 0.0
    if move[mpos["state"]] not in ("done", "cancel"):
        # nothing of it was received: the move itself goes on
        state.touch("stock.move", move, {**after, "picking_id": target, "reference": reference})
        return
    copied = (
        "name",
        "origin",
        "product_id",
        "product_uom",
        "location_id",
        "location_dest_id",
        "picking_type_id",
        "sale_line_id",
        "purchase_line_id",
        "warehouse_id",
        "date",
        "company_id",
    )
    vals = {name: move[mpos[name]] for name in copied}
    state.create(
        Env(state, "stock.move"),
        {
            **vals,
            **after,
            "product_uom_qty": rest_uom,
            "picking_id": target,
            "reference": reference,
        },
    )


def create_return(env: Env) -> dict[str, Any]:
    """``stock.return.picking`` -> a receipt from where the delivery went back to where it came
    from, one move per wizard line with a quantity, ready (nothing to reserve at a customer's);
    validating it puts the units back in stock."""
    state = env.state
    wizards = state.tables["stock.return.picking"]
    lines = state.tables["stock.return.picking.line"]
    pickings = state.tables["stock.picking"]
    ppos = pickings.pos
    [wizard] = state.rows(env)
    original = pickings.records[wizard[wizards.pos["picking_id"]]]
    if original[ppos["state"]] != "done":
        raise UserError("You may only return Done pickings.")
    returned = [
        lines.records[lid]
        for lid in lines.indexes["wizard_id"].map.get(wizard[0], ())
        if lines.records[lid][lines.pos["quantity"]] > 0
    ]
    if not returned:
        raise UserError("Please specify at least one non-zero quantity.")
    warehouse = None
    for wid, row in state.tables["stock.warehouse"].records.items():
        if (
            row[state.tables["stock.warehouse"].pos["lot_stock_id"]]
            == original[ppos["location_id"]]
        ):
            warehouse = state.tables["stock.warehouse"].records[wid]
    picking_type = (
        warehouse[state.tables["stock.warehouse"].pos["in_type_id"]]
        if warehouse
        else original[ppos["picking_type_id"]]
    )
    name = original[ppos["name"]]
    picking_id = state.create(
        env.for_model("stock.picking"),
        {
            "picking_type_id": picking_type,
            "location_id": original[ppos["location_dest_id"]],
            "location_dest_id": original[ppos["location_id"]],
            "origin": f"Return of {name}",
            "partner_id": original[ppos["partner_id"]],
            "state": "assigned",
        },
    )
    for line in returned:
        product_id = line[lines.pos["product_id"]]
        # nothing to reserve at a customer's: ready with its whole quantity (17+)
        ready = (
            {"quantity": line[lines.pos["quantity"]]}
            if state.profile.move_quantity_field == "quantity"
            else {}
        )
        state.create(
            env.for_model("stock.move"),
            {
                **ready,
                "name": f"Return of {name}",
                "origin": f"Return of {name}",
                "reference": state.get("stock.picking", picking_id, "name"),
                "product_id": product_id,
                "product_uom_qty": line[lines.pos["quantity"]],
                "product_uom": state.product_uom(product_id),
                "location_id": original[ppos["location_dest_id"]],
                "location_dest_id": original[ppos["location_id"]],
                "picking_id": picking_id,
                "picking_type_id": picking_type,
                "state": "assigned",
            },
        )
    refresh_picking_state(state, picking_id)
    return {
        "type": "ir.actions.act_window",
        "res_model": "stock.picking",
        "res_id": picking_id,
        "view_mode": "form",
        "name": f"Return of {name}",
    }


# -- sales ----------------------------------------------------------------------------------------


def confirm_orders(env: Env) -> bool:
    """``sale.order.action_confirm``: state ``sale``, a delivery picking, reservations."""
    state = env.state
    orders = state.tables["sale.order"]
    opos = orders.pos
    rows = state.rows(env)
    bad = [row for row in rows if row[opos["state"]] not in ("draft", "sent")]
    if bad:
        names = ", ".join(row[opos["name"]] for row in bad)
        raise UserError(f"The following orders are not in a state requiring confirmation: {names}")
    route_id = purchase.dropship_route_id(state)
    split = {row[0]: _goods_lines(state, row, route_id) for row in rows}
    # Odoo's procurement fails the whole confirmation: check before anything changes
    purchase.check_dropship_vendors(state, [line for _, ds in split.values() for line in ds])
    for row in rows:
        state.touch("sale.order", row, {"state": "sale", "date_order": state.now()}, env.uid)
        stocked, dropship = split[row[0]]
        _launch_procurement(env, row, stocked)
        if dropship:
            purchase.raise_dropship_purchases(env, row, dropship)
    return True


def _goods_lines(
    state: OdooState, order: list, route_id: int | None
) -> tuple[list[list], list[list]]:
    """An order's goods lines: (delivered from its warehouse, drop-shipped by a vendor)."""
    lines = state.tables["sale.order.line"]
    lpos = lines.pos
    stocked: list[list] = []
    dropship: list[list] = []
    for lid in lines.indexes["order_id"].map.get(order[0], ()):
        line = lines.records[lid]
        product_id = line[lpos["product_id"]]
        if not product_id:
            continue
        if (
            state.get(
                "product.template",
                state.get("product.product", product_id, "product_tmpl_id"),
                "type",
            )
            == "service"
        ):
            continue
        if purchase.is_dropship_line(state, line, route_id):
            dropship.append(line)
        else:
            stocked.append(line)
    return stocked, dropship


def _launch_procurement(env: Env, order: list, goods: list[list]) -> None:
    state = env.state
    orders = state.tables["sale.order"]
    lines = state.tables["sale.order.line"]
    warehouses = state.tables["stock.warehouse"]
    opos, lpos = orders.pos, lines.pos
    warehouse_id = order[opos["warehouse_id"]]
    if not warehouse_id or not goods:
        return
    warehouse = warehouses.records[warehouse_id]
    uom_field = state.profile.sale_line_uom_field
    customers = special_location(state, "customer")
    picking_env = env.for_model("stock.picking")
    picking_id = state.create(
        picking_env,
        {
            "picking_type_id": warehouse[warehouses.pos["out_type_id"]],
            "location_id": warehouse[warehouses.pos["lot_stock_id"]],
            "location_dest_id": customers,
            "origin": order[opos["name"]],
            "partner_id": order[opos["partner_shipping_id"]] or order[opos["partner_id"]],
            "sale_id": order[0],
            "state": "confirmed",
        },
    )
    move_env = env.for_model("stock.move")
    moves = state.tables["stock.move"]
    for line in goods:
        move_id = state.create(
            move_env,
            {
                "name": line[lpos["name"]] or "",
                "origin": order[opos["name"]],
                "reference": state.get("stock.picking", picking_id, "name"),
                "product_id": line[lpos["product_id"]],
                "product_uom_qty": line[lpos["product_uom_qty"]],
                "product_uom": line[lpos[uom_field]] or state.product_uom(line[lpos["product_id"]]),
                "location_id": warehouse[warehouses.pos["lot_stock_id"]],
                "location_dest_id": customers,
                "picking_id": picking_id,
                "picking_type_id": warehouse[warehouses.pos["out_type_id"]],
                "sale_line_id": line[0],
                "warehouse_id": warehouse_id,
                "state": "confirmed",
            },
        )
        row = moves.records[move_id]
        if state.is_storable(line[lpos["product_id"]]):
            reserve_move(state, row)
        else:
            values: dict[str, Any] = {"state": "assigned"}
            if state.profile.move_quantity_field == "quantity":
                values["quantity"] = row[moves.pos["product_uom_qty"]]
            state.touch("stock.move", row, values)
    refresh_picking_state(state, picking_id)


def cancel_action(env: Env) -> Any:
    """``sale.order.action_cancel``: the wizard action, or cancel outright."""
    state = env.state
    orders = state.tables["sale.order"]
    opos = orders.pos
    rows = state.rows(env)
    locked = (
        [row for row in rows if row[opos["locked"]]]
        if state.profile.sale_locked_flag
        else [row for row in rows if row[opos["state"]] == "done"]
    )
    if locked:
        raise UserError("You cannot cancel a locked order. Please unlock it first.")
    show_wizard = not env.context.get("disable_cancel_warning") and any(
        row[opos["state"]] != "draft" for row in rows
    )
    if show_wizard:
        if len(rows) != 1:
            raise ValueError(f"Expected singleton: sale.order{tuple(env.ids)}")
        row = rows[0]
        type_name = (
            "Quotation" if row[opos["state"]] in ("draft", "sent", "cancel") else ("Sales Order")
        )
        return {
            "name": f"Cancel {type_name}",
            "view_mode": "form",
            "res_model": "sale.order.cancel",
            "view_id": 1000,
            "type": "ir.actions.act_window",
            "context": {
                "default_template_id": False,
                "default_order_id": row[0],
                "mark_so_as_canceled": True,
                "default_email_layout_xmlid": (
                    "mail.mail_notification_layout_with_responsible_signature"
                ),
                "model_description": type_name,
            },
            "target": "new",
        }
    return cancel_orders(env)


def cancel_orders(env: Env) -> bool:
    """Odoo's ``_action_cancel``: cancel undone pickings (releasing stock), state ``cancel``."""
    state = env.state
    pickings = state.tables["stock.picking"]
    moves = state.tables["stock.move"]
    for row in state.rows(env):
        for picking_id in list(pickings.indexes["sale_id"].map.get(row[0], ())):
            picking = pickings.records[picking_id]
            if picking[pickings.pos["state"]] in ("done", "cancel"):
                continue
            cancel_moves(state, list(moves.indexes["picking_id"].map.get(picking_id, ())))
            if picking[pickings.pos["state"]] != "cancel":
                state.touch("stock.picking", picking, {"state": "cancel"})
        state.touch("sale.order", row, {"state": "cancel"}, env.uid)
    return True


def apply_inventory(env: Env) -> None:
    """``stock.quant.action_apply_inventory``: set counted quantities through adjustments."""
    state = env.state
    quants = state.tables["stock.quant"]
    pos = quants.pos
    for row in state.rows(env):
        if not row[pos["inventory_quantity_set"]]:
            continue
        delta = _round(row[pos["inventory_quantity"]] - row[pos["quantity"]])
        if delta:
            adjust_stock(
                state,
                row[pos["product_id"]],
                row[pos["location_id"]],
                delta,
                row[pos["lot_id"]] or None,
                "Product Quantity Updated",
            )
        state.touch(
            "stock.quant",
            row,
            {
                "inventory_quantity": 0.0,
                "inventory_quantity_set": False,
                "inventory_date": False,
            },
        )
