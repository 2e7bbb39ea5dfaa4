"""Vendors, purchase orders, their receipts and drop-shipping, as Odoo 16 to 19 run them.

The behaviour of Odoo's ``purchase``, ``purchase_stock``, ``sale_purchase`` and
``stock_dropshipping`` that a connector observes through the API:

- ``product.supplierinfo``: a vendor's price for a template (``product_id`` empty) or one
  variant, with its code, minimum quantity and lead time. Odoo's ``_select_seller`` picks
  the vendor: the entries of the product valid today, for the quantity (in the vendor's unit),
  by ``sequence, min_qty desc, price, id``; of the first vendor found, its cheapest entry.
- ``purchase.order``: named ``P00001``...; ``button_confirm`` adds the vendor to the products'
  vendors when it is not one yet (``_add_supplier_to_product``: no code, no lead time), then
  approves: state ``purchase``, ``date_approve``, and the receipt (``_create_picking``): one
  transfer of the order's operation type from ``Partners/Vendors`` to its destination, one
  move per goods line with ``purchase_line_id``, ready at once (nothing to reserve at a
  vendor's). A line added to or changed on a confirmed order updates the receipt; its
  quantity cannot go below what was received.
- ``qty_received`` counts the done moves of the line, less what went back to the vendor;
  ``receipt_status`` is ``pending``, ``partial`` or ``full`` (by transfers up to 18, by line
  quantities on 19).
- The drop-ship route (``stock_dropshipping.route_drop_shipping``, "Dropship"): a confirmed
  sale order line on it, or on a product whose routes hold it, is not delivered from a
  warehouse: the order raises a request for quotation to the product's vendor with the
  drop-ship operation type (``dest_address_id`` the customer, ``origin`` the sale order, one
  line per sale line with ``sale_line_id``) and reserves nothing. Without a vendor the
  confirmation fails as Odoo's procurement does. Confirming that purchase makes the drop-ship
  transfer, Vendors to Customers, that belongs to the sale order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import UserError

if TYPE_CHECKING:
    from .models import Env, OdooState

DROPSHIP_XMLID = ("stock_dropshipping", "route_drop_shipping")
#: states of a purchase order that is confirmed (``done`` is "Locked", up to 18)
CONFIRMED = frozenset({"purchase", "done"})
_OPEN_MOVE_STATES = frozenset({"draft", "waiting", "confirmed", "partially_available", "assigned"})
_EPSILON = 1e-9


def _round(value: float) -> float:
    return round(value, 6) + 0.0


# -- external identifiers and drop-ship configuration ---------------------------------------------


def xmlid_res_id(state: OdooState, module: str, name: str) -> int | None:
    """The record id behind ``module.name`` in ``ir.model.data``, if there is one."""
    data = state.tables["ir.model.data"]
    pos = data.pos
    for rid in data.indexes["name"].map.get(name, ()):
        row = data.records[rid]
        if row[pos["module"]] == module:
            return row[pos["res_id"]] or None
    return None


def dropship_route_id(state: OdooState) -> int | None:
    """The drop-ship route, while ``stock_dropshipping`` is installed (its xml id exists)."""
    rid = xmlid_res_id(state, *DROPSHIP_XMLID)
    return rid if rid in state.tables["stock.route"].records else None


def dropship_picking_type(state: OdooState) -> int | None:
    """The company's drop-ship operation type: no warehouse, from a vendor to a customer."""
    types = state.tables["stock.picking.type"]
    locations = state.tables["stock.location"]
    tpos, usage = types.pos, locations.pos["usage"]
    for rid in types.ids:
        row = types.records[rid]
        src, dest = row[tpos["default_location_src_id"]], row[tpos["default_location_dest_id"]]
        if (
            row[tpos["active"]]
            and not row[tpos["warehouse_id"]]
            and src
            and dest
            and locations.records[src][usage] == "supplier"
            and locations.records[dest][usage] == "customer"
        ):
            return rid
    return None


# -- vendors --------------------------------------------------------------------------------------


def template_of(state: OdooState, product_id: int) -> int:
    """The template of a variant."""
    return state.get("product.product", product_id, "product_tmpl_id")


def purchase_uom(state: OdooState, product_id: int) -> int:
    """The unit a product is bought in: the template's ``uom_po_id`` up to 18, its unit on 19."""
    tmpl = template_of(state, product_id)
    if state.profile.uom_categories:
        return state.get("product.template", tmpl, "uom_po_id") or state.product_uom(product_id)
    return state.product_uom(product_id)


def seller_uom(state: OdooState, seller: list) -> int:
    """The unit of a vendor price: the template's purchase unit up to 18, its own on 19."""
    sellers = state.tables["product.supplierinfo"]
    if state.profile.supplierinfo_uom_field == "uom_id":
        own = seller[sellers.pos["uom_id"]]
        if own:
            return own
    tmpl = seller[sellers.pos["product_tmpl_id"]]
    templates = state.tables["product.template"]
    row = templates.records[tmpl]
    if "uom_po_id" in templates.pos and row[templates.pos["uom_po_id"]]:
        return row[templates.pos["uom_po_id"]]
    return row[templates.pos["uom_id"]]


def sellers_of(state: OdooState, product_id: int) -> list[list]:
    """The vendor prices that apply to a variant, in Odoo's order."""
    sellers = state.tables["product.supplierinfo"]
    pos = sellers.pos
    tmpl = template_of(state, product_id)
    rows = [
        sellers.records[sid]
        for sid in sellers.indexes["product_tmpl_id"].map.get(tmpl, ())
        if sellers.records[sid][pos["product_id"]] in (False, product_id)
    ]
    rows.sort(key=lambda r: (r[pos["sequence"]], -r[pos["min_qty"]], r[pos["price"]], r[0]))
    return rows


def select_seller(
    state: OdooState,
    product_id: int,
    quantity: float = 0.0,
    uom_id: int | None = None,
    partner_id: int | None = None,
) -> list | None:
    """Odoo's ``_select_seller``: the first vendor valid today for the quantity, its cheapest
    price (a supplierinfo row), or None."""
    sellers = state.tables["product.supplierinfo"]
    partners = state.tables["res.partner"]
    pos = sellers.pos
    today = state.now()[:10]
    found: list[list] = []
    for seller in sellers_of(state, product_id):
        partner = seller[pos["partner_id"]]
        if partner_id and partner != partner_id:
            continue
        if not partners.records[partner][partners.pos["active"]]:
            continue
        if seller[pos["date_start"]] and seller[pos["date_start"]] > today:
            continue
        if seller[pos["date_end"]] and seller[pos["date_end"]] < today:
            continue
        wanted = quantity
        if uom_id:
            wanted = state.convert_qty(quantity, uom_id, seller_uom(state, seller))
        if wanted < seller[pos["min_qty"]] - _EPSILON:
            continue
        if not found or found[0][pos["partner_id"]] == partner:
            found.append(seller)
    if not found:
        return None
    return min(found, key=lambda r: r[pos["price"]])


def vendor_description(state: OdooState, product_id: int, seller: list | None) -> str:
    """A purchase line's description: the product as the vendor names it."""
    products = state.tables["product.product"]
    if seller is None:
        return products.display_name_of(product_id)
    sellers = state.tables["product.supplierinfo"]
    code = seller[sellers.pos["product_code"]]
    name = seller[sellers.pos["product_name"]] or state.get(
        "product.template", template_of(state, product_id), "name"
    )
    return f"[{code}] {name}" if code else name


# -- create and write hooks -----------------------------------------------------------------------


def before_create_supplierinfo(env: Env, vals: dict[str, Any]) -> dict[str, Any]:
    """A price for a variant belongs to its template; the unit defaults to the product's."""
    state = env.state
    if vals.get("product_id") and not vals.get("product_tmpl_id"):
        vals["product_tmpl_id"] = template_of(state, int(vals["product_id"]))
    if not vals.get("product_tmpl_id"):
        raise state._mandatory_error(
            state.tables["product.supplierinfo"],
            state.tables["product.supplierinfo"].fields["product_tmpl_id"],
        )
    if state.profile.supplierinfo_uom_field == "uom_id" and not vals.get("uom_id"):
        if vals.get("product_id"):
            vals["uom_id"] = state.product_uom(int(vals["product_id"]))
        else:
            vals["uom_id"] = state.get("product.template", int(vals["product_tmpl_id"]), "uom_id")
    return vals


def before_create_order(env: Env, vals: dict[str, Any]) -> dict[str, Any]:
    """Name (``P00001``), order date, buyer and the default receipt type."""
    state = env.state
    if not vals.get("name") or vals.get("name") == "New":
        vals["name"] = f"P{state.next_sequence('purchase.order'):05d}"
    vals.setdefault("date_order", state.now())
    vals.setdefault("user_id", env.uid)
    if not vals.get("picking_type_id"):
        warehouses = state.tables["stock.warehouse"]
        for wid in sorted(
            warehouses.ids, key=lambda w: (warehouses.records[w][warehouses.pos["sequence"]], w)
        ):
            in_type = warehouses.records[wid][warehouses.pos["in_type_id"]]
            if in_type:
                vals["picking_type_id"] = in_type
                break
    return vals


def before_create_line(env: Env, vals: dict[str, Any]) -> dict[str, Any]:
    """Unit, description, vendor price and expected date from the product and the vendor."""
    state = env.state
    uom_field = state.profile.purchase_line_uom_field
    if vals.get("display_type"):
        return vals
    order_id = vals.get("order_id")
    order = state.row("purchase.order", int(order_id)) if order_id else None
    orders = state.tables["purchase.order"]
    product_id = vals.get("product_id")
    if product_id:
        product_id = int(product_id)
        uom = int(vals.get(uom_field) or purchase_uom(state, product_id))
        vals[uom_field] = uom
        partner = order[orders.pos["partner_id"]] if order else None
        seller = select_seller(
            state, product_id, float(vals.get("product_qty", 0.0)), uom, partner_id=partner
        )
        vals.setdefault("name", vendor_description(state, product_id, seller))
        if "price_unit" not in vals:
            if seller is not None:
                vals["price_unit"] = seller[state.tables["product.supplierinfo"].pos["price"]]
            else:
                tmpl = template_of(state, product_id)
                vals["price_unit"] = state.get("product.template", tmpl, "standard_price")
        if not vals.get("date_planned"):
            start = order[orders.pos["date_order"]] if order else state.now()
            delay = seller[state.tables["product.supplierinfo"].pos["delay"]] if seller else 0
            vals["date_planned"] = _shift(start, days=delay)
    vals.setdefault("product_qty", 1.0 if product_id else 0.0)
    if order is not None:
        vals["company_id"] = order[orders.pos["company_id"]]
    vals["price_subtotal"] = _round(
        float(vals.get("product_qty") or 0.0) * float(vals.get("price_unit") or 0.0)
    )
    return vals


def after_create_line(env: Env, row: list) -> None:
    """Totals and expected date of the order; a line added to a confirmed order is received."""
    state = env.state
    lines = state.tables["purchase.order.line"]
    _refresh_line_quantity(state, row)
    order_id = row[lines.pos["order_id"]]
    refresh_order_totals(state, order_id)
    order = state.tables["purchase.order"].records[order_id]
    if order[state.tables["purchase.order"].pos["state"]] in CONFIRMED:
        create_or_update_receipt(env, order)


def before_write_line(env: Env, rows: list[list], vals: dict[str, Any]) -> dict[str, Any]:
    """Refuse an ordered quantity below the received one; keep the subtotal."""
    state = env.state
    lines = state.tables["purchase.order.line"]
    pos = lines.pos
    if "product_qty" in vals:
        for row in rows:
            if float(vals["product_qty"]) < row[pos["qty_received"]] - _EPSILON:
                raise UserError(
                    "You cannot decrease the ordered quantity below the received quantity.\n"
                    "Create a return first."
                )
    for row in rows:
        qty = float(vals.get("product_qty", row[pos["product_qty"]]))
        price = float(vals.get("price_unit", row[pos["price_unit"]]))
        row[pos["price_subtotal"]] = _round(qty * price)
    return vals


def after_write_line(env: Env, rows: list[list], vals: dict[str, Any]) -> None:
    """A changed quantity or unit updates the receipt of a confirmed order."""
    state = env.state
    lines = state.tables["purchase.order.line"]
    orders = state.tables["purchase.order"]
    uom_field = state.profile.purchase_line_uom_field
    changed = {"product_qty", uom_field, "product_id"} & vals.keys()
    for row in rows:
        _refresh_line_quantity(state, row)
    for order_id in {row[lines.pos["order_id"]] for row in rows}:
        refresh_order_totals(state, order_id)
        order = orders.records[order_id]
        if changed and order[orders.pos["state"]] in CONFIRMED:
            create_or_update_receipt(env, order)


def _refresh_line_quantity(state: OdooState, row: list) -> None:
    lines = state.tables["purchase.order.line"]
    pos = lines.pos
    product_id = row[pos["product_id"]]
    qty = row[pos["product_qty"]]
    if product_id:
        qty = state.convert_qty(
            qty, row[pos[state.profile.purchase_line_uom_field]], state.product_uom(product_id)
        )
    row[pos["product_uom_qty"]] = _round(qty)


def refresh_order_totals(state: OdooState, order_id: int) -> None:
    """``amount_untaxed``/``amount_total`` and the earliest expected arrival of the lines."""
    orders = state.tables["purchase.order"]
    lines = state.tables["purchase.order.line"]
    row = orders.records.get(order_id)
    if row is None:
        return
    mine = [lines.records[lid] for lid in lines.indexes["order_id"].map.get(order_id, ())]
    total = _round(sum(line[lines.pos["price_subtotal"]] for line in mine))
    row[orders.pos["amount_untaxed"]] = total
    row[orders.pos["amount_total"]] = total
    dates = [line[lines.pos["date_planned"]] for line in mine if line[lines.pos["date_planned"]]]
    orders.set_value(row, orders.fields["date_planned"], min(dates) if dates else False)


def _shift(stamp: str, *, days: float) -> str:
    moment = datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")
    return (moment + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


# -- the purchase workflow ------------------------------------------------------------------------


def button_confirm(env: Env) -> bool:
    """Confirm requests for quotation (others are left as they are, as Odoo does)."""
    state = env.state
    orders = state.tables["purchase.order"]
    for row in state.rows(env):
        if row[orders.pos["state"]] not in ("draft", "sent"):
            continue
        _add_supplier_to_product(env, row)
        state.touch("purchase.order", row, {"state": "to approve"}, env.uid)
        _approve(env, row)
    return True


def button_approve(env: Env) -> bool:
    """Approve orders waiting for it."""
    state = env.state
    orders = state.tables["purchase.order"]
    for row in state.rows(env):
        if row[orders.pos["state"]] == "to approve":
            _approve(env, row)
    return True


def _approve(env: Env, order: list) -> None:
    state = env.state
    state.touch(
        "purchase.order", order, {"state": "purchase", "date_approve": state.now()}, env.uid
    )
    create_or_update_receipt(env, order)
    refresh_receipt_status(state, order[0])


def _add_supplier_to_product(env: Env, order: list) -> None:
    """A vendor that is not yet one of a product's vendors becomes one (Odoo does this on
    confirmation, for products with at most ten vendors): template level, no code."""
    state = env.state
    orders = state.tables["purchase.order"]
    lines = state.tables["purchase.order.line"]
    sellers = state.tables["product.supplierinfo"]
    partners = state.tables["res.partner"]
    lpos, spos = lines.pos, sellers.pos
    partner = order[orders.pos["partner_id"]]
    partner = partners.records[partner][partners.pos["parent_id"]] or partner
    for lid in lines.indexes["order_id"].map.get(order[0], ()):
        line = lines.records[lid]
        product_id = line[lpos["product_id"]]
        if not product_id:
            continue
        current = sellers_of(state, product_id)
        if any(s[spos["partner_id"]] == partner for s in current) or len(current) > 10:
            continue
        state.create(
            env.for_model("product.supplierinfo"),
            {
                "partner_id": partner,
                "product_tmpl_id": template_of(state, product_id),
                "sequence": max((s[spos["sequence"]] for s in current), default=0) + 1,
                "min_qty": 0.0,
                "price": line[lpos["price_unit"]],
                "delay": 0,
            },
        )


def button_cancel(env: Env) -> bool:
    """Cancel orders whose receipts have not begun; their open transfers are cancelled."""
    from . import rules

    state = env.state
    orders = state.tables["purchase.order"]
    moves = state.tables["stock.move"]
    pickings = state.tables["stock.picking"]
    rows = state.rows(env)
    for row in rows:
        if any(
            moves.records[mid][moves.pos["state"]] == "done" for mid in _order_moves(state, row)
        ):
            raise UserError(
                f"Unable to cancel purchase order {row[orders.pos['name']]} as some receptions "
                "have already been done."
            )
    for row in rows:
        rules.cancel_moves(state, _order_moves(state, row))
        for pid in row[orders.pos["picking_ids"]]:
            picking = pickings.records.get(pid)
            if picking is not None and picking[pickings.pos["state"]] != "cancel":
                state.touch("stock.picking", picking, {"state": "cancel"}, env.uid)
        state.touch("purchase.order", row, {"state": "cancel"}, env.uid)
        refresh_receipt_status(state, row[0])
    return True


def button_draft(env: Env) -> bool:
    """Set cancelled orders back to request for quotation."""
    state = env.state
    orders = state.tables["purchase.order"]
    for row in state.rows(env):
        if row[orders.pos["state"]] == "cancel":
            state.touch("purchase.order", row, {"state": "draft"}, env.uid)
    return True


def set_locked(env: Env, locked: bool) -> bool:
    """Lock or unlock confirmed orders: state ``done`` up to 18, the ``locked`` flag on 19."""
    state = env.state
    orders = state.tables["purchase.order"]
    for row in state.rows(env):
        if state.profile.purchase_locked_flag:
            state.touch("purchase.order", row, {"locked": locked}, env.uid)
        elif locked and row[orders.pos["state"]] == "purchase":
            state.touch("purchase.order", row, {"state": "done"}, env.uid)
        elif not locked and row[orders.pos["state"]] == "done":
            state.touch("purchase.order", row, {"state": "purchase"}, env.uid)
    return True


def _order_moves(state: OdooState, order: list) -> list[int]:
    lines = state.tables["purchase.order.line"]
    moves = state.tables["stock.move"]
    return [
        mid
        for lid in lines.indexes["order_id"].map.get(order[0], ())
        for mid in moves.indexes["purchase_line_id"].map.get(lid, ())
    ]


# -- receipts -------------------------------------------------------------------------------------


def _is_goods(state: OdooState, product_id: int) -> bool:
    tmpl = template_of(state, product_id)
    return state.get("product.template", tmpl, "type") != "service"


def create_or_update_receipt(env: Env, order: list) -> None:
    """Odoo's ``_create_or_update_picking``: the moves of each goods line add up to its
    quantity; what is missing goes into the order's open transfer (or a new one), what is too
    much comes off the open moves."""
    from . import rules

    state = env.state
    orders = state.tables["purchase.order"]
    lines = state.tables["purchase.order.line"]
    moves = state.tables["stock.move"]
    opos, lpos, mpos = orders.pos, lines.pos, moves.pos
    uom_field = state.profile.purchase_line_uom_field
    qty_field = state.profile.move_quantity_field
    wanted: list[tuple[list, float]] = []
    for lid in lines.indexes["order_id"].map.get(order[0], ()):
        line = lines.records[lid]
        product_id = line[lpos["product_id"]]
        if line[lpos["display_type"]] or not product_id or not _is_goods(state, product_id):
            continue
        line_uom = line[lpos[uom_field]]
        planned = 0.0
        open_moves = []
        for mid in moves.indexes["purchase_line_id"].map.get(lid, ()):
            move = moves.records[mid]
            if move[mpos["state"]] == "cancel":
                continue
            qty = state.convert_qty(
                move[mpos["product_qty"]], state.product_uom(product_id), line_uom
            )
            if (
                move[mpos["location_dest_id"]]
                and state.tables["stock.location"].records[move[mpos["location_dest_id"]]][
                    state.tables["stock.location"].pos["usage"]
                ]
                == "supplier"
            ):
                continue  # a return to the vendor is not part of what is ordered
            planned += qty
            if move[mpos["state"]] != "done":
                open_moves.append(move)
        missing = _round(line[lpos["product_qty"]] - planned)
        if missing > _EPSILON:
            wanted.append((line, missing))
        elif missing < -_EPSILON:
            excess = -missing
            for move in reversed(open_moves):
                move_qty = state.convert_qty(
                    move[mpos["product_uom_qty"]], move[mpos["product_uom"]], line_uom
                )
                take = min(move_qty, excess)
                left = state.convert_qty(move_qty - take, line_uom, move[mpos["product_uom"]])
                if left <= _EPSILON:
                    rules.cancel_moves(state, [move[0]])
                else:
                    values: dict[str, Any] = {"product_uom_qty": left}
                    if qty_field == "quantity":
                        values["quantity"] = left
                    state.write(env.for_model("stock.move", [move[0]]), values)
                excess = _round(excess - take)
                if excess <= _EPSILON:
                    break
    if not wanted:
        return
    picking_id = _open_receipt(state, order) or _new_receipt(env, order, [w[0] for w in wanted])
    picking = state.tables["stock.picking"].records[picking_id]
    ppos = state.tables["stock.picking"].pos
    for line, qty in wanted:
        line_uom = line[lpos[uom_field]]
        same = next(
            (
                moves.records[mid]
                for mid in moves.indexes["purchase_line_id"].map.get(line[0], ())
                if moves.records[mid][mpos["picking_id"]] == picking_id
                and moves.records[mid][mpos["state"]] in _OPEN_MOVE_STATES
                and moves.records[mid][mpos["product_uom"]] == line_uom
            ),
            None,
        )
        if same is not None:
            # Odoo merges the new move into the line's move of the same transfer
            demand = _round(same[mpos["product_uom_qty"]] + qty)
            merged: dict[str, Any] = {"product_uom_qty": demand}
            if qty_field == "quantity":
                merged["quantity"] = _round(same[mpos["quantity"]] + qty)
            state.write(env.for_model("stock.move", [same[0]]), merged)
            continue
        values = {
            "name": line[lpos["name"]] or "",
            "origin": order[opos["name"]],
            "reference": picking[ppos["name"]],
            "product_id": line[lpos["product_id"]],
            "product_uom": line_uom,
            "product_uom_qty": qty,
            "location_id": picking[ppos["location_id"]],
            "location_dest_id": picking[ppos["location_dest_id"]],
            "picking_id": picking_id,
            "picking_type_id": picking[ppos["picking_type_id"]],
            "purchase_line_id": line[0],
            "sale_line_id": line[lpos["sale_line_id"]],
            "warehouse_id": state.get(
                "stock.picking.type", picking[ppos["picking_type_id"]], "warehouse_id"
            ),
            "date": line[lpos["date_planned"]] or state.now(),
            "state": "assigned",
        }
        if qty_field == "quantity":
            # the units are at the vendor's: everything is available at once (17+)
            values["quantity"] = qty
        state.create(env.for_model("stock.move"), values)
    rules.refresh_picking_state(state, picking_id)


def _open_receipt(state: OdooState, order: list) -> int | None:
    pickings = state.tables["stock.picking"]
    orders = state.tables["purchase.order"]
    ppos = pickings.pos
    for pid in order[orders.pos["picking_ids"]]:
        picking = pickings.records.get(pid)
        if (
            picking is not None
            and picking[ppos["state"]] not in ("done", "cancel")
            and picking[ppos["picking_type_id"]] == order[orders.pos["picking_type_id"]]
        ):
            return pid
    return None


def _new_receipt(env: Env, order: list, lines: list[list]) -> int:
    from . import rules

    state = env.state
    orders = state.tables["purchase.order"]
    opos = orders.pos
    type_row = state.row("stock.picking.type", order[opos["picking_type_id"]])
    types = state.tables["stock.picking.type"]
    if order[opos["dest_address_id"]]:
        dest = rules.special_location(state, "customer")
    else:
        dest = type_row[types.pos["default_location_dest_id"]]
    sale_ids = {
        state.get("sale.order.line", line_sale, "order_id")
        for line in lines
        if (line_sale := line[state.tables["purchase.order.line"].pos["sale_line_id"]])
    }
    picking_id = state.create(
        env.for_model("stock.picking"),
        {
            "picking_type_id": order[opos["picking_type_id"]],
            "partner_id": order[opos["dest_address_id"]] or order[opos["partner_id"]],
            "origin": order[opos["name"]],
            "location_id": rules.special_location(state, "supplier"),
            "location_dest_id": dest,
            "scheduled_date": order[opos["date_planned"]] or state.now(),
            "purchase_id": order[0],
            "sale_id": min(sale_ids) if len(sale_ids) == 1 else False,
            "state": "draft",
        },
    )
    state.touch("purchase.order", order, {"picking_ids": (*order[opos["picking_ids"]], picking_id)})
    return picking_id


def add_backorder_to_order(state: OdooState, order_id: int, picking_id: int) -> None:
    """A backorder of a receipt is one of the order's receptions too."""
    orders = state.tables["purchase.order"]
    row = orders.records.get(order_id)
    if row is not None and picking_id not in row[orders.pos["picking_ids"]]:
        state.touch(
            "purchase.order", row, {"picking_ids": (*row[orders.pos["picking_ids"]], picking_id)}
        )


def refresh_received(state: OdooState, line_ids: set[int]) -> None:
    """``qty_received`` of purchase lines from their done moves (less returns to the vendor),
    then the receipt status of their orders."""
    lines = state.tables["purchase.order.line"]
    moves = state.tables["stock.move"]
    locations = state.tables["stock.location"]
    lpos, mpos = lines.pos, moves.pos
    uom_field = state.profile.purchase_line_uom_field
    orders: set[int] = set()
    for lid in line_ids:
        line = lines.records.get(lid)
        if line is None:
            continue
        total = 0.0
        for mid in moves.indexes["purchase_line_id"].map.get(lid, ()):
            move = moves.records[mid]
            if move[mpos["state"]] != "done":
                continue
            qty = state.convert_qty(
                move[mpos["product_qty"]],
                state.product_uom(move[mpos["product_id"]]),
                line[lpos[uom_field]],
            )
            dest_usage = locations.records[move[mpos["location_dest_id"]]][locations.pos["usage"]]
            total += -qty if dest_usage == "supplier" else qty
        if _round(total) != line[lpos["qty_received"]]:
            state.touch("purchase.order.line", line, {"qty_received": _round(total)})
        orders.add(line[lpos["order_id"]])
    for order_id in orders:
        refresh_receipt_status(state, order_id)


def refresh_receipt_status(state: OdooState, order_id: int) -> None:
    """``receipt_status`` (and ``effective_date``, the first receipt) of a purchase order."""
    orders = state.tables["purchase.order"]
    pickings = state.tables["stock.picking"]
    lines = state.tables["purchase.order.line"]
    opos, ppos, lpos = orders.pos, pickings.pos, lines.pos
    order = orders.records.get(order_id)
    if order is None:
        return
    mine = [pickings.records[p] for p in order[opos["picking_ids"]] if p in pickings.records]
    status: Any = False
    if order[opos["state"]] in CONFIRMED:
        if state.profile.major >= 19:
            goods = [
                lines.records[lid]
                for lid in lines.indexes["order_id"].map.get(order_id, ())
                if lines.records[lid][lpos["product_id"]]
            ]
            if goods and all(
                g[lpos["qty_received"]] >= g[lpos["product_qty"]] - _EPSILON for g in goods
            ):
                status = "full"
            elif any(g[lpos["qty_received"]] for g in goods):
                status = "partial"
            elif goods:
                status = "pending"
        elif mine and not all(p[ppos["state"]] == "cancel" for p in mine):
            if all(p[ppos["state"]] in ("done", "cancel") for p in mine):
                status = "full"
            elif any(p[ppos["state"]] == "done" for p in mine):
                status = "partial"
            else:
                status = "pending"
    values: dict[str, Any] = {}
    if order[opos["receipt_status"]] != status:
        values["receipt_status"] = status
    done_dates = sorted(p[ppos["date_done"]] for p in mine if p[ppos["date_done"]])
    effective = done_dates[0] if done_dates else False
    if order[opos["effective_date"]] != effective:
        values["effective_date"] = effective
    if values:
        state.touch("purchase.order", order, values)


# -- drop-shipping from sale orders ---------------------------------------------------------------


def is_dropship_line(state: OdooState, line: list, route_id: int | None) -> bool:
    """Whether a sale line goes drop-ship: its route, or its product's routes."""
    if route_id is None:
        return False
    lines = state.tables["sale.order.line"]
    pos = lines.pos
    if line[pos["route_id"]]:
        return line[pos["route_id"]] == route_id
    product_id = line[pos["product_id"]]
    if not product_id:
        return False
    routes = state.get("product.template", template_of(state, product_id), "route_ids")
    return route_id in routes


def _dropship_seller(state: OdooState, line: list) -> tuple[list | None, int, float]:
    lines = state.tables["sale.order.line"]
    pos = lines.pos
    product_id = line[pos["product_id"]]
    sale_uom = line[pos[state.profile.sale_line_uom_field]] or state.product_uom(product_id)
    po_uom = purchase_uom(state, product_id)
    qty = state.convert_qty(line[pos["product_uom_qty"]], sale_uom, po_uom)
    seller = select_seller(state, product_id, qty, po_uom)
    if seller is not None and state.profile.supplierinfo_uom_field == "uom_id":
        po_uom = seller_uom(state, seller)
        qty = state.convert_qty(line[pos["product_uom_qty"]], sale_uom, po_uom)
    return seller, po_uom, qty


def check_dropship_vendors(state: OdooState, lines: list[list]) -> None:
    """Refuse, before anything changes, drop-ship lines whose product has no vendor (Odoo's
    procurement error, raised by the confirmation)."""
    products = state.tables["product.product"]
    pos = state.tables["sale.order.line"].pos
    errors = []
    for line in lines:
        if _dropship_seller(state, line)[0] is None:
            name = products.display_name_of(line[pos["product_id"]])
            errors.append(
                "There is no matching vendor price to generate the purchase order for product "
                f"{name} (no vendor defined, minimum quantity not reached, dates not valid, "
                "...). Go on the product form and complete the list of vendors."
            )
    if errors:
        raise UserError("\n".join(errors))
    if lines and dropship_picking_type(state) is None:
        raise UserError("No rule has been found to replenish the product with the Dropship route.")


def raise_dropship_purchases(env: Env, order: list, lines: list[list]) -> list[int]:
    """One request for quotation per vendor for the order's drop-ship lines; their ids."""
    state = env.state
    orders = state.tables["sale.order"]
    opos = orders.pos
    sellers = state.tables["product.supplierinfo"]
    spos = sellers.pos
    picking_type = dropship_picking_type(state)
    by_vendor: dict[int, list[tuple[list, list, int, float]]] = {}
    for line in lines:
        seller, po_uom, qty = _dropship_seller(state, line)
        assert seller is not None  # checked before the order changed
        by_vendor.setdefault(seller[spos["partner_id"]], []).append((line, seller, po_uom, qty))
    made = []
    now = state.now()
    pos = state.tables["sale.order.line"].pos
    for vendor, items in by_vendor.items():
        po = state.create(
            env.for_model("purchase.order"),
            {
                "partner_id": vendor,
                "picking_type_id": picking_type,
                "dest_address_id": order[opos["partner_shipping_id"]] or order[opos["partner_id"]],
                "origin": order[opos["name"]],
                "date_order": now,
                "user_id": False,
                "company_id": order[opos["company_id"]] or 1,
            },
        )
        for line, seller, po_uom, qty in items:
            product_id = line[pos["product_id"]]
            state.create(
                env.for_model("purchase.order.line"),
                {
                    "order_id": po,
                    "product_id": product_id,
                    "product_qty": qty,
                    state.profile.purchase_line_uom_field: po_uom,
                    "name": vendor_description(state, product_id, seller),
                    "price_unit": seller[spos["price"]],
                    "date_planned": _shift(now, days=seller[spos["delay"]]),
                    "sale_line_id": line[0],
                },
            )
        made.append(po)
    return made


def purchase_orders_of_sale(state: OdooState, sale_id: int) -> set[int]:
    """The purchase orders raised for a sale order's lines."""
    sale_lines = state.tables["sale.order.line"]
    lines = state.tables["purchase.order.line"]
    return {
        lines.records[pl][lines.pos["order_id"]]
        for sl in sale_lines.indexes["order_id"].map.get(sale_id, ())
        for pl in lines.indexes["sale_line_id"].map.get(sl, ())
    }
