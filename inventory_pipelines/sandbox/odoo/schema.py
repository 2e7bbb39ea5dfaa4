"""The models the emulator knows, with their fields as each Odoo version declares them.

Only what an inventory connector touches is modelled: partners and users, external ids,
units of measure, products and their vendor prices, warehouses, locations, routes, lots, quants,
moves, pickings, sales orders and purchase orders. Field names,
types, selections and relations follow Odoo 16.0 to 19.0; the version differences come from
:mod:`.versions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .automation import declare_models
from .orm import Field, Table
from .versions import VersionProfile

MOVE_STATES = (
    ("draft", "New"),
    ("waiting", "Waiting Another Move"),
    ("confirmed", "Waiting Availability"),
    ("partially_available", "Partially Available"),
    ("assigned", "Available"),
    ("done", "Done"),
    ("cancel", "Cancelled"),
)
PICKING_STATES = (
    ("draft", "Draft"),
    ("waiting", "Waiting Another Operation"),
    ("confirmed", "Waiting"),
    ("assigned", "Ready"),
    ("done", "Done"),
    ("cancel", "Cancelled"),
)
LOCATION_USAGES = (
    ("supplier", "Vendor Location"),
    ("view", "View"),
    ("internal", "Internal Location"),
    ("customer", "Customer Location"),
    ("inventory", "Inventory Loss"),
    ("production", "Production"),
    ("transit", "Transit Location"),
)
TRACKING = (("serial", "By Unique Serial Number"), ("lot", "By Lots"), ("none", "No Tracking"))
PICKING_TYPE_CODES = (
    ("incoming", "Receipt"),
    ("outgoing", "Delivery"),
    ("internal", "Internal Transfer"),
)
RECEIPT_STATUSES = (
    ("pending", "Not Received"),
    ("partial", "Partially Received"),
    ("full", "Fully Received"),
)


def _magic() -> list[Field]:
    return [
        Field("id", "integer", "ID", readonly=True),
        Field("create_date", "datetime", "Created on", readonly=True),
        Field("create_uid", "many2one", "Created by", relation="res.users", readonly=True),
        # ordered: connectors page on ``write_date >= cursor``
        Field("write_date", "datetime", "Last Updated on", readonly=True, ordered=True),
        Field("write_uid", "many2one", "Last Updated by", relation="res.users", readonly=True),
    ]


def _display_name_field() -> Field:
    # computed by the reader from the table's display function
    return Field("display_name", "char", "Display Name", store=False, readonly=True)


def build_schema(
    profile: VersionProfile, computes: Mapping[str, Callable[..., Any]]
) -> dict[str, Table]:
    """Create the empty tables for ``profile``; ``computes`` supplies computed fields."""
    tables: dict[str, Table] = {}
    v = profile.major

    def table(name: str, description: str, fields: list[Field], **kwargs: Any) -> Table:
        t = Table(name, description, [*_magic(), *fields, _display_name_field()], **kwargs)
        tables[name] = t
        return t

    def name_of(model: str, rid: Any) -> str:
        return tables[model].display_name_of(rid) if rid else ""

    # -- base ---------------------------------------------------------------------------------
    table(
        "res.company",
        "Companies",
        [
            Field("name", "char", "Company Name", required=True),
            Field("partner_id", "many2one", "Partner", relation="res.partner"),
            Field("active", "boolean", "Active", default=True),
        ],
    )
    table(
        "res.partner",
        "Contact",
        [
            Field("name", "char", "Name", index=True),
            Field("email", "char", "Email"),
            Field("phone", "char", "Phone"),
            Field("ref", "char", "Reference", index=True),
            Field("is_company", "boolean", "Is a Company"),
            Field("customer_rank", "integer", "Customer Rank"),
            Field("supplier_rank", "integer", "Supplier Rank"),
            Field("street", "char", "Street"),
            Field("city", "char", "City"),
            Field("zip", "char", "Zip"),
            Field("parent_id", "many2one", "Related Company", relation="res.partner"),
            Field("company_id", "many2one", "Company", relation="res.company"),
            Field("active", "boolean", "Active", default=True),
        ],
        order="name, id",
    )
    table(
        "res.users",
        "User",
        [
            Field("name", "char", "Name", required=True),
            Field("login", "char", "Login", required=True, index=True),
            Field("partner_id", "many2one", "Related Partner", relation="res.partner"),
            Field("company_id", "many2one", "Company", relation="res.company"),
            Field("lang", "char", "Language", default="en_US"),
            Field("tz", "char", "Timezone", default="Europe/Brussels"),
            Field("share", "boolean", "Share User"),
            Field("active", "boolean", "Active", default=True),
        ],
        order="name, login",
    )
    table(
        "ir.model",
        "Models",
        [
            Field("name", "char", "Model Description", required=True),
            Field("model", "char", "Model", required=True, index=True),
            Field(
                "state",
                "selection",
                "Type",
                selection=(("manual", "Custom Object"), ("base", "Base Object")),
                default="base",
            ),
            Field("transient", "boolean", "Transient Model"),
            Field("info", "text", "Information"),
        ],
        order="model",
    )
    table(
        "ir.model.data",
        "Model Data",
        [
            Field("name", "char", "External Identifier", required=True, index=True),
            Field("complete_name", "char", "Complete ID", readonly=True),
            Field("module", "char", "Module", required=True, default="", index=True),
            Field("model", "char", "Model Name", required=True, index=True),
            Field("res_id", "integer", "Record ID", index=True),
            Field("noupdate", "boolean", "Non Updatable"),
        ],
        order="module, model, name",
        rec_name="complete_name",
    )

    # -- units of measure ---------------------------------------------------------------------
    if profile.uom_categories:
        table(
            "uom.category",
            "Product UoM Categories",
            [
                Field("name", "char", "Unit of Measure Category", required=True),
                Field("uom_ids", "one2many", "Units", relation="uom.uom", inverse="category_id"),
            ],
        )
        table(
            "uom.uom",
            "Product Unit of Measure",
            [
                Field("name", "char", "Unit of Measure", required=True),
                Field(
                    "category_id",
                    "many2one",
                    "Category",
                    relation="uom.category",
                    required=True,
                    index=True,
                ),
                Field(
                    "factor",
                    "float",
                    "Ratio",
                    default=1.0,
                    aggregator="none",
                    help="How much bigger or smaller this unit is compared to the reference "
                    "Unit of Measure for this category: 1 * (reference unit) = ratio * "
                    "(this unit)",
                ),
                Field("factor_inv", "float", "Bigger Ratio", default=1.0, aggregator="none"),
                Field(
                    "uom_type",
                    "selection",
                    "Type",
                    default="reference",
                    selection=(
                        ("bigger", "Bigger than the reference Unit of Measure"),
                        ("reference", "Reference Unit of Measure for this category"),
                        ("smaller", "Smaller than the reference Unit of Measure"),
                    ),
                ),
                Field("rounding", "float", "Rounding Precision", default=0.01, aggregator="none"),
                Field("active", "boolean", "Active", default=True),
            ],
            order="factor DESC, id",
        )
    else:
        table(
            "uom.uom",
            "Product Unit of Measure",
            [
                Field("name", "char", "Unit Name", required=True),
                Field("sequence", "integer", "Sequence"),
                Field(
                    "relative_factor",
                    "float",
                    "Contains",
                    default=1.0,
                    required=True,
                    aggregator="none",
                ),
                Field(
                    "relative_uom_id", "many2one", "Reference Unit", relation="uom.uom", index=True
                ),
                Field(
                    "related_uom_ids",
                    "one2many",
                    "Related UoMs",
                    relation="uom.uom",
                    inverse="relative_uom_id",
                ),
                Field(
                    "factor",
                    "float",
                    "Absolute Quantity",
                    readonly=True,
                    default=1.0,
                    aggregator="none",
                ),
                Field("rounding", "float", "Rounding Precision", compute=computes["uom_rounding"]),
                Field("parent_path", "char", "Parent Path", index=True),
                Field("active", "boolean", "Active", default=True),
            ],
            order="sequence, relative_uom_id, id",
            parent_name="relative_uom_id",
        )

    # -- products -----------------------------------------------------------------------------
    table(
        "product.category",
        "Product Category",
        [
            Field("name", "char", "Name", required=True, index=True),
            Field("complete_name", "char", "Complete Name", index=True),
            Field(
                "parent_id", "many2one", "Parent Category", relation="product.category", index=True
            ),
            Field("parent_path", "char", "Parent Path", index=True),
        ],
        order="complete_name",
        rec_name="complete_name",
        parent_name="parent_id",
    )
    table(
        "product.attribute",
        "Product Attribute",
        [
            Field("name", "char", "Attribute", required=True),
        ],
    )
    table(
        "product.template.attribute.value",
        "Product Template Attribute Value",
        [
            Field("name", "char", "Value", required=True),
            Field("attribute_id", "many2one", "Attribute", relation="product.attribute"),
            Field(
                "product_tmpl_id",
                "many2one",
                "Product Template",
                relation="product.template",
                index=True,
            ),
        ],
        display=lambda t, row: (
            f"{name_of('product.attribute', row[t.pos['attribute_id']])}: {row[t.pos['name']]}"
        ),
    )
    if v <= 17:
        product_types = (
            ("consu", "Consumable"),
            ("service", "Service"),
            ("product", "Storable Product"),
        )
    else:
        product_types = (("consu", "Goods"), ("service", "Service"), ("combo", "Combo"))
    template_fields = [
        Field("name", "char", "Name", required=True, index=True),
        Field(
            "type",
            "selection",
            "Product Type",
            selection=product_types,
            default="consu",
            required=True,
        ),
        Field("categ_id", "many2one", "Product Category", relation="product.category"),
        Field("uom_id", "many2one", "Unit of Measure", relation="uom.uom", required=True),
        Field("default_code", "char", "Internal Reference", index=True),
        Field("barcode", "char", "Barcode"),
        Field("list_price", "float", "Sales Price", default=1.0, aggregator="none"),
        Field("standard_price", "float", "Cost", aggregator="none"),
        Field("sale_ok", "boolean", "Can be Sold", default=True),
        Field("purchase_ok", "boolean", "Can be Purchased", default=True),
        Field(
            "tracking", "selection", "Tracking", selection=TRACKING, default="none", required=True
        ),
        Field("company_id", "many2one", "Company", relation="res.company"),
        Field("active", "boolean", "Active", default=True),
        Field(
            "product_variant_ids",
            "one2many",
            "Products",
            relation="product.product",
            inverse="product_tmpl_id",
        ),
        Field(
            "product_variant_count",
            "integer",
            "# Product Variants",
            compute=computes["product_variant_count"],
        ),
        Field(
            "qty_available", "float", "Quantity On Hand", compute=computes["template_qty_available"]
        ),
        Field(
            "seller_ids",
            "one2many",
            "Vendors",
            relation="product.supplierinfo",
            inverse="product_tmpl_id",
        ),
        Field("route_ids", "many2many", "Routes", relation="stock.route"),
    ]
    product_fields = [
        Field(
            "product_tmpl_id",
            "many2one",
            "Product Template",
            relation="product.template",
            required=True,
            index=True,
            ondelete="cascade",
        ),
        Field("default_code", "char", "Internal Reference", index=True),
        Field("barcode", "char", "Barcode", index=True),
        Field("active", "boolean", "Active", default=True),
        Field(
            "product_template_attribute_value_ids",
            "many2many",
            "Attribute Values",
            relation="product.template.attribute.value",
        ),
        Field("name", "char", "Name", related="product_tmpl_id.name"),
        Field(
            "type",
            "selection",
            "Product Type",
            selection=product_types,
            related="product_tmpl_id.type",
        ),
        Field(
            "categ_id",
            "many2one",
            "Product Category",
            relation="product.category",
            related="product_tmpl_id.categ_id",
        ),
        Field(
            "uom_id",
            "many2one",
            "Unit of Measure",
            relation="uom.uom",
            related="product_tmpl_id.uom_id",
        ),
        Field(
            "tracking",
            "selection",
            "Tracking",
            selection=TRACKING,
            related="product_tmpl_id.tracking",
        ),
        Field("list_price", "float", "Sales Price", related="product_tmpl_id.list_price"),
        Field("lst_price", "float", "Sales Price", related="product_tmpl_id.list_price"),
        Field("sale_ok", "boolean", "Can be Sold", related="product_tmpl_id.sale_ok"),
        Field(
            "company_id",
            "many2one",
            "Company",
            relation="res.company",
            related="product_tmpl_id.company_id",
        ),
        Field(
            "stock_quant_ids", "one2many", "Quants", relation="stock.quant", inverse="product_id"
        ),
        Field(
            "stock_move_ids", "one2many", "Stock Moves", relation="stock.move", inverse="product_id"
        ),
    ]
    for name, label in (
        ("qty_available", "Quantity On Hand"),
        ("free_qty", "Free To Use Quantity"),
        ("virtual_available", "Forecasted Quantity"),
        ("incoming_qty", "Incoming"),
        ("outgoing_qty", "Outgoing"),
    ):
        product_fields.append(
            Field(name, "float", label, compute=computes[name], search=computes[name + "_search"])
        )
    if v <= 17:
        template_fields.append(
            Field(
                "detailed_type",
                "selection",
                "Product Type",
                selection=product_types,
                default="consu",
                required=True,
            )
        )
        product_fields.append(
            Field(
                "detailed_type",
                "selection",
                "Product Type",
                selection=product_types,
                related="product_tmpl_id.detailed_type",
            )
        )
    else:
        template_fields.append(Field("is_storable", "boolean", "Track Inventory"))
        product_fields.append(
            Field(
                "is_storable", "boolean", "Track Inventory", related="product_tmpl_id.is_storable"
            )
        )
    if profile.uom_categories:
        template_fields.append(Field("uom_po_id", "many2one", "Purchase UoM", relation="uom.uom"))
        product_fields.append(
            Field(
                "uom_po_id",
                "many2one",
                "Purchase UoM",
                relation="uom.uom",
                related="product_tmpl_id.uom_po_id",
            )
        )
    table(
        "product.template",
        "Product",
        template_fields,
        order="name, id",
    )

    def product_display(t: Table, row: list) -> str:
        tmpl = tables["product.template"].records.get(row[t.pos["product_tmpl_id"]])
        name = tmpl[tables["product.template"].pos["name"]] if tmpl else ""
        values = row[t.pos["product_template_attribute_value_ids"]]
        if values:
            ptav = tables["product.template.attribute.value"]
            labels = ", ".join(
                ptav.records[x][ptav.pos["name"]] for x in values if x in ptav.records
            )
            name = f"{name} ({labels})"
        code = row[t.pos["default_code"]]
        return f"[{code}] {name}" if code else name

    table(
        "product.product",
        "Product Variant",
        product_fields,
        order="default_code, id",
        display=product_display,
    )
    supplierinfo_fields = [
        Field(
            "partner_id",
            "many2one",
            "Vendor",
            relation="res.partner",
            required=True,
            index=True,
            ondelete="cascade",
        ),
        Field("product_name", "char", "Vendor Product Name"),
        Field("product_code", "char", "Vendor Product Code"),
        Field("sequence", "integer", "Sequence", default=1),
        Field("min_qty", "float", "Quantity", required=True, default=1.0 if v >= 19 else 0.0),
        Field("price", "float", "Price", aggregator="none"),
        Field("company_id", "many2one", "Company", relation="res.company"),
        Field("date_start", "date", "Start Date"),
        Field("date_end", "date", "End Date"),
        Field(
            "product_id",
            "many2one",
            "Product Variant",
            relation="product.product",
            index=True,
        ),
        Field(
            "product_tmpl_id",
            "many2one",
            "Product Template",
            relation="product.template",
            index=True,
            ondelete="cascade",
        ),
        Field(
            "product_variant_count",
            "integer",
            "Variant Count",
            compute=computes["supplierinfo_variant_count"],
        ),
        Field(
            "delay",
            "integer",
            "Lead Time" if v >= 19 else "Delivery Lead Time",
            required=True,
            default=1,
        ),
    ]
    if profile.supplierinfo_uom_field == "uom_id":
        supplierinfo_fields.append(Field("uom_id", "many2one", "Unit", relation="uom.uom"))
    else:
        supplierinfo_fields.append(
            Field(
                "product_uom",
                "many2one",
                "Unit of Measure",
                relation="uom.uom",
                related="product_tmpl_id.uom_po_id",
            )
        )
    if v >= 17:
        supplierinfo_fields.append(Field("discount", "float", "Discount (%)"))
    table(
        "product.supplierinfo",
        "Supplier Pricelist",
        supplierinfo_fields,
        order="sequence, min_qty desc, price, id",
        rec_name="partner_id",
        display=lambda t, row: name_of("res.partner", row[t.pos["partner_id"]]),
        cache_display=False,
    )

    # -- warehouses and locations ---------------------------------------------------------------
    table(
        "stock.warehouse",
        "Warehouse",
        [
            Field("name", "char", "Warehouse", required=True),
            Field("code", "char", "Short Name", required=True, index=True),
            Field("active", "boolean", "Active", default=True),
            Field("company_id", "many2one", "Company", relation="res.company", required=True),
            Field("partner_id", "many2one", "Address", relation="res.partner"),
            Field(
                "view_location_id",
                "many2one",
                "View Location",
                relation="stock.location",
                required=True,
            ),
            Field(
                "lot_stock_id",
                "many2one",
                "Location Stock",
                relation="stock.location",
                required=True,
            ),
            Field("in_type_id", "many2one", "In Type", relation="stock.picking.type"),
            Field("out_type_id", "many2one", "Out Type", relation="stock.picking.type"),
            Field("int_type_id", "many2one", "Internal Type", relation="stock.picking.type"),
            Field("sequence", "integer", "Sequence", default=10),
        ],
        order="sequence,id",
    )
    location_fields = [
        Field("name", "char", "Location Name", required=True),
        Field("complete_name", "char", "Full Location Name", index=True),
        Field("active", "boolean", "Active", default=True),
        Field(
            "usage",
            "selection",
            "Location Type",
            selection=LOCATION_USAGES,
            default="internal",
            required=True,
            index=True,
        ),
        Field("location_id", "many2one", "Parent Location", relation="stock.location", index=True),
        Field(
            "child_ids", "one2many", "Contains", relation="stock.location", inverse="location_id"
        ),
        Field("parent_path", "char", "Parent Path", index=True),
        Field("company_id", "many2one", "Company", relation="res.company"),
        Field(
            "warehouse_id",
            "many2one",
            "Warehouse",
            relation="stock.warehouse",
            index=True,
            readonly=True,
        ),
        Field("barcode", "char", "Barcode"),
        Field("replenish_location", "boolean", "Replenish Location"),
    ]
    if profile.has_scrap_location:
        location_fields.append(Field("scrap_location", "boolean", "Is a Scrap Location?"))
    table(
        "stock.location",
        "Inventory Locations",
        location_fields,
        order="complete_name, id",
        rec_name="complete_name",
        parent_name="location_id",
    )
    picking_type_codes = PICKING_TYPE_CODES
    if profile.dropship_picking_code == "dropship":
        picking_type_codes += (("dropship", "Dropship"),)
    table(
        "stock.picking.type",
        "Picking Type",
        [
            Field("name", "char", "Operation Type", required=True),
            Field(
                "code",
                "selection",
                "Type of Operation",
                required=True,
                selection=picking_type_codes,
            ),
            Field("sequence_code", "char", "Sequence Prefix"),
            Field("warehouse_id", "many2one", "Warehouse", relation="stock.warehouse"),
            Field(
                "default_location_src_id",
                "many2one",
                "Default Source Location",
                relation="stock.location",
            ),
            Field(
                "default_location_dest_id",
                "many2one",
                "Default Destination Location",
                relation="stock.location",
            ),
            Field("company_id", "many2one", "Company", relation="res.company"),
            Field("active", "boolean", "Active", default=True),
        ],
        order="id",
        display=lambda t, row: (
            f"{name_of('stock.warehouse', row[t.pos['warehouse_id']])}: {row[t.pos['name']]}"
            if row[t.pos["warehouse_id"]]
            else row[t.pos["name"]]
        ),
    )
    table(
        "stock.route",
        "Inventory Routes",
        [
            Field("name", "char", "Route", required=True),
            Field("active", "boolean", "Active", default=True),
            Field("sequence", "integer", "Sequence", default=0),
            Field("product_selectable", "boolean", "Applicable on Product", default=True),
            Field("product_categ_selectable", "boolean", "Applicable on Product Category"),
            Field("warehouse_selectable", "boolean", "Applicable on Warehouse"),
            Field("sale_selectable", "boolean", "Selectable on Sales Order Line"),
            Field("company_id", "many2one", "Company", relation="res.company"),
        ],
        order="sequence",
    )
    table(
        "stock.lot",
        "Lot/Serial",
        [
            Field("name", "char", "Lot/Serial Number", required=True, index=True),
            Field("ref", "char", "Internal Reference"),
            Field(
                "product_id",
                "many2one",
                "Product",
                relation="product.product",
                required=True,
                index=True,
            ),
            Field("company_id", "many2one", "Company", relation="res.company"),
            Field("quant_ids", "one2many", "Quants", relation="stock.quant", inverse="lot_id"),
            Field("product_qty", "float", "On Hand Quantity", compute=computes["lot_product_qty"]),
        ],
        order="name, id",
    )
    table(
        "stock.quant.package",
        "Packages",
        [
            Field("name", "char", "Package Reference", required=True),
            Field("company_id", "many2one", "Company", relation="res.company"),
        ],
    )

    def quant_display(t: Table, row: list) -> str:
        return (
            f"{name_of('stock.location', row[t.pos['location_id']])} - "
            f"{name_of('product.product', row[t.pos['product_id']])}"
        )

    table(
        "stock.quant",
        "Quants",
        [
            Field(
                "product_id",
                "many2one",
                "Product",
                relation="product.product",
                required=True,
                index=True,
                ondelete="restrict",
            ),
            Field(
                "location_id",
                "many2one",
                "Location",
                relation="stock.location",
                required=True,
                index=True,
                ondelete="restrict",
            ),
            Field(
                "lot_id",
                "many2one",
                "Lot/Serial Number",
                relation="stock.lot",
                index=True,
                ondelete="restrict",
            ),
            Field("package_id", "many2one", "Package", relation="stock.quant.package"),
            Field("owner_id", "many2one", "Owner", relation="res.partner"),
            Field("company_id", "many2one", "Company", relation="res.company"),
            Field("quantity", "float", "Quantity", readonly=True),
            Field("reserved_quantity", "float", "Reserved Quantity", readonly=True),
            Field("inventory_quantity", "float", "Counted Quantity"),
            Field("inventory_quantity_set", "boolean", "Inventory Quantity Set"),
            Field("inventory_date", "date", "Scheduled Date"),
            Field("in_date", "datetime", "Incoming Date", readonly=True),
            Field(
                "available_quantity",
                "float",
                "Available Quantity",
                compute=computes["quant_available_quantity"],
            ),
            Field(
                "inventory_diff_quantity",
                "float",
                "Difference",
                compute=computes["quant_inventory_diff"],
            ),
            Field(
                "warehouse_id",
                "many2one",
                "Warehouse",
                relation="stock.warehouse",
                related="location_id.warehouse_id",
            ),
            Field(
                "product_tmpl_id",
                "many2one",
                "Product Template",
                relation="product.template",
                related="product_id.product_tmpl_id",
            ),
            Field(
                "product_uom_id",
                "many2one",
                "Unit",
                relation="uom.uom",
                related="product_id.product_tmpl_id.uom_id",
            ),
            Field(
                "tracking",
                "selection",
                "Tracking",
                selection=TRACKING,
                related="product_id.product_tmpl_id.tracking",
            ),
        ],
        order="id",
        rec_name=None,
        display=quant_display,
        cache_display=False,
    )
    table(
        "stock.picking",
        "Transfer",
        [
            Field("name", "char", "Reference", index=True),
            Field("origin", "char", "Source Document", index=True),
            Field("partner_id", "many2one", "Contact", relation="res.partner"),
            Field(
                "picking_type_id",
                "many2one",
                "Operation Type",
                relation="stock.picking.type",
                required=True,
            ),
            Field(
                "picking_type_code",
                "selection",
                "Type of Operation",
                selection=picking_type_codes,
                related="picking_type_id.code",
            ),
            Field(
                "location_id",
                "many2one",
                "Source Location",
                relation="stock.location",
                required=True,
            ),
            Field(
                "location_dest_id",
                "many2one",
                "Destination Location",
                relation="stock.location",
                required=True,
            ),
            Field(
                "state",
                "selection",
                "Status",
                selection=PICKING_STATES,
                default="draft",
                index=True,
            ),
            Field(
                "move_type",
                "selection",
                "Shipping Policy",
                selection=(
                    ("direct", "As soon as possible"),
                    ("one", "When all products are ready"),
                ),
                default="direct",
            ),
            Field("scheduled_date", "datetime", "Scheduled Date"),
            Field("date_done", "datetime", "Date of Transfer"),
            Field(
                "move_ids", "one2many", "Stock Moves", relation="stock.move", inverse="picking_id"
            ),
            Field("sale_id", "many2one", "Sales Order", relation="sale.order", index=True),
            Field("company_id", "many2one", "Company", relation="res.company"),
            Field(
                "backorder_id", "many2one", "Back Order of", relation="stock.picking", index=True
            ),
            # related to move_ids.purchase_line_id.order_id in Odoo; kept here by the rules
            Field(
                "purchase_id",
                "many2one",
                "Purchase Orders",
                relation="purchase.order",
                readonly=True,
                index=True,
            ),
            Field(
                "is_dropship", "boolean", "Is a Dropship", compute=computes["picking_is_dropship"]
            ),
        ],
        order="scheduled_date asc, id desc",
        cache_display=False,
    )
    move_fields = [
        Field("name", "char", "Description", required=True),
        Field("reference", "char", "Reference", index=True),
        Field("origin", "char", "Source Document"),
        Field(
            "product_id",
            "many2one",
            "Product",
            relation="product.product",
            required=True,
            index=True,
        ),
        Field("product_uom_qty", "float", "Demand", default=0.0),
        Field("product_qty", "float", "Real Quantity", readonly=True),
        Field("product_uom", "many2one", "UoM", relation="uom.uom", required=True),
        Field(
            "location_id",
            "many2one",
            "Source Location",
            relation="stock.location",
            required=True,
            index=True,
        ),
        Field(
            "location_dest_id",
            "many2one",
            "Destination Location",
            relation="stock.location",
            required=True,
            index=True,
        ),
        Field("state", "selection", "Status", selection=MOVE_STATES, default="draft", index=True),
        Field("picking_id", "many2one", "Transfer", relation="stock.picking", index=True),
        Field("picking_type_id", "many2one", "Operation Type", relation="stock.picking.type"),
        Field("sale_line_id", "many2one", "Sale Line", relation="sale.order.line", index=True),
        Field(
            "purchase_line_id",
            "many2one",
            "Purchase Order Line",
            relation="purchase.order.line",
            index=True,
        ),
        Field("date", "datetime", "Date Scheduled"),
        Field("company_id", "many2one", "Company", relation="res.company"),
        Field("warehouse_id", "many2one", "Warehouse", relation="stock.warehouse"),
        Field("is_inventory", "boolean", "Inventory"),
        Field("lot_ids", "many2many", "Serial Numbers", relation="stock.lot"),
        Field(
            "product_tmpl_id",
            "many2one",
            "Product Template",
            relation="product.template",
            related="product_id.product_tmpl_id",
        ),
    ]
    if profile.move_quantity_field == "quantity":
        move_fields.append(Field("quantity", "float", "Quantity"))
        move_fields.append(Field("picked", "boolean", "Picked"))
    else:
        move_fields.append(Field("quantity_done", "float", "Quantity Done"))
        move_fields.append(
            Field(
                "reserved_availability",
                "float",
                "Quantity Reserved",
                compute=computes["move_reserved_availability"],
            )
        )
    table(
        "stock.move",
        "Stock Move",
        move_fields,
        order="id",
        cache_display=False,
        display=lambda t, row: row[t.pos["reference"]] or row[t.pos["name"]],
    )

    # -- sales ----------------------------------------------------------------------------------
    sale_fields = [
        Field("name", "char", "Order Reference", required=True, index=True, readonly=True),
        Field(
            "partner_id", "many2one", "Customer", relation="res.partner", required=True, index=True
        ),
        Field("partner_invoice_id", "many2one", "Invoice Address", relation="res.partner"),
        Field("partner_shipping_id", "many2one", "Delivery Address", relation="res.partner"),
        Field("client_order_ref", "char", "Customer Reference", index=True),
        Field("origin", "char", "Source Document"),
        Field(
            "state",
            "selection",
            "Status",
            selection=profile.sale_states,
            default="draft",
            index=True,
            readonly=True,
        ),
        Field("date_order", "datetime", "Order Date", required=True),
        Field("commitment_date", "datetime", "Delivery Date"),
        Field(
            "order_line", "one2many", "Order Lines", relation="sale.order.line", inverse="order_id"
        ),
        Field("warehouse_id", "many2one", "Warehouse", relation="stock.warehouse"),
        Field("company_id", "many2one", "Company", relation="res.company"),
        Field("user_id", "many2one", "Salesperson", relation="res.users"),
        Field("picking_ids", "one2many", "Transfers", relation="stock.picking", inverse="sale_id"),
        Field(
            "delivery_count", "integer", "Delivery Orders", compute=computes["sale_delivery_count"]
        ),
        Field(
            "purchase_order_count",
            "integer",
            "Number of Purchase Order Generated",
            compute=computes["sale_purchase_order_count"],
        ),
        Field("amount_untaxed", "float", "Untaxed Amount", readonly=True),
        Field("amount_total", "float", "Total", readonly=True),
        Field("note", "text", "Terms and conditions"),
    ]
    if profile.sale_locked_flag:
        sale_fields.append(Field("locked", "boolean", "Locked", readonly=True))
    table("sale.order", "Sales Order", sale_fields, order="date_order desc, id desc")
    table(
        "sale.order.line",
        "Sales Order Line",
        [
            Field(
                "order_id",
                "many2one",
                "Order Reference",
                relation="sale.order",
                required=True,
                index=True,
                ondelete="cascade",
            ),
            Field("sequence", "integer", "Sequence", default=10),
            Field("name", "text", "Description", required=True),
            Field("product_id", "many2one", "Product", relation="product.product", index=True),
            Field("product_uom_qty", "float", "Quantity", default=1.0),
            Field(profile.sale_line_uom_field, "many2one", "Unit of Measure", relation="uom.uom"),
            Field("price_unit", "float", "Unit Price", aggregator="none"),
            Field("price_subtotal", "float", "Subtotal", readonly=True),
            Field(
                "qty_delivered",
                "float",
                "Delivery Quantity",
                compute=computes["sale_line_qty_delivered"],
            ),
            Field(
                "move_ids", "one2many", "Stock Moves", relation="stock.move", inverse="sale_line_id"
            ),
            Field("route_id", "many2one", "Route", relation="stock.route", ondelete="restrict"),
            Field(
                "purchase_line_ids",
                "one2many",
                "Generated Purchase Lines",
                relation="purchase.order.line",
                inverse="sale_line_id",
            ),
            Field(
                "state",
                "selection",
                "Order Status",
                selection=profile.sale_states,
                related="order_id.state",
            ),
        ],
        order="order_id, sequence, id",
        cache_display=False,
        display=lambda t, row: (
            f"{name_of('sale.order', row[t.pos['order_id']])} - {row[t.pos['name']]}"
        ),
    )
    # -- purchases (purchase, purchase_stock, sale_purchase) ---------------------------------------
    purchase_fields = [
        Field("name", "char", "Order Reference", required=True, index=True, default="New"),
        Field(
            "priority",
            "selection",
            "Priority",
            selection=(("0", "Normal"), ("1", "Urgent")),
            default="0",
        ),
        Field("origin", "char", "Source"),
        Field("partner_ref", "char", "Vendor Reference"),
        Field("date_order", "datetime", "Order Deadline", required=True, index=True),
        Field("date_approve", "datetime", "Order Date", readonly=True),
        Field(
            "partner_id", "many2one", "Vendor", relation="res.partner", required=True, index=True
        ),
        Field("dest_address_id", "many2one", "Dropship Address", relation="res.partner"),
        Field(
            "state",
            "selection",
            "Status",
            selection=profile.purchase_states,
            default="draft",
            index=True,
            readonly=True,
        ),
        Field(
            "order_line",
            "one2many",
            "Order Lines",
            relation="purchase.order.line",
            inverse="order_id",
        ),
        Field("date_planned", "datetime", "Expected Arrival", index=True),
        Field("amount_untaxed", "float", "Untaxed Amount", readonly=True),
        Field("amount_total", "float", "Total", readonly=True),
        Field("user_id", "many2one", "Buyer", relation="res.users"),
        Field("company_id", "many2one", "Company", relation="res.company", required=True),
        Field(
            "picking_type_id",
            "many2one",
            "Deliver To",
            relation="stock.picking.type",
            required=True,
        ),
        Field("picking_ids", "many2many", "Receptions", relation="stock.picking", readonly=True),
        Field(
            "incoming_picking_count",
            "integer",
            "Incoming Shipment count",
            compute=computes["purchase_incoming_picking_count"],
        ),
        Field(
            "receipt_status",
            "selection",
            "Receipt Status",
            selection=RECEIPT_STATUSES,
            readonly=True,
        ),
        Field("effective_date", "datetime", "Arrival", readonly=True),
    ]
    if profile.purchase_locked_flag:
        purchase_fields.append(Field("locked", "boolean", "Locked"))
    table(
        "purchase.order",
        "Purchase Order",
        purchase_fields,
        order="priority desc, id desc",
        display=lambda t, row: (
            f"{row[t.pos['name']]} ({row[t.pos['partner_ref']]})"
            if row[t.pos["partner_ref"]]
            else row[t.pos["name"]]
        ),
    )
    table(
        "purchase.order.line",
        "Purchase Order Line",
        [
            Field("name", "text", "Description", required=True),
            Field("sequence", "integer", "Sequence", default=10),
            Field("product_qty", "float", "Quantity", required=True),
            Field("product_uom_qty", "float", "Total Quantity", readonly=True),
            Field("date_planned", "datetime", "Expected Arrival", index=True),
            Field(
                profile.purchase_line_uom_field, "many2one", "Unit of Measure", relation="uom.uom"
            ),
            Field("product_id", "many2one", "Product", relation="product.product", index=True),
            Field("price_unit", "float", "Unit Price", aggregator="avg"),
            Field("price_subtotal", "float", "Subtotal", readonly=True),
            Field(
                "order_id",
                "many2one",
                "Order Reference",
                relation="purchase.order",
                required=True,
                index=True,
                ondelete="cascade",
            ),
            Field("company_id", "many2one", "Company", relation="res.company", readonly=True),
            Field(
                "state",
                "selection",
                "Status",
                selection=profile.purchase_states,
                related="order_id.state",
            ),
            Field("qty_received", "float", "Received Qty", readonly=True),
            Field(
                "partner_id",
                "many2one",
                "Partner",
                relation="res.partner",
                related="order_id.partner_id",
            ),
            Field("date_order", "datetime", "Order Date", related="order_id.date_order"),
            Field(
                "display_type",
                "selection",
                "Display Type",
                selection=(("line_section", "Section"), ("line_note", "Note")),
            ),
            Field(
                "move_ids",
                "one2many",
                "Reservation",
                relation="stock.move",
                inverse="purchase_line_id",
            ),
            Field(
                "sale_line_id",
                "many2one",
                "Origin Sale Item",
                relation="sale.order.line",
                index=True,
            ),
            Field(
                "sale_order_id",
                "many2one",
                "Sale Order",
                relation="sale.order",
                related="sale_line_id.order_id",
            ),
        ],
        order="order_id, sequence, id",
        cache_display=False,
        display=lambda t, row: (
            f"{name_of('purchase.order', row[t.pos['order_id']])}: {row[t.pos['name']]}"
        ),
    )
    table(
        "stock.backorder.confirmation",
        "Backorder Confirmation",
        [
            Field("pick_ids", "many2many", "Transfers", relation="stock.picking"),
            Field("show_transfers", "boolean", "Show Transfers"),
        ],
        rec_name=None,
    )
    table(
        "stock.return.picking",
        "Return Picking",
        [
            Field("picking_id", "many2one", "Picking", relation="stock.picking", required=True),
            Field(
                "product_return_moves",
                "one2many",
                "Moves",
                relation="stock.return.picking.line",
                inverse="wizard_id",
            ),
        ],
        rec_name=None,
    )
    table(
        "stock.return.picking.line",
        "Return Picking Line",
        [
            Field("wizard_id", "many2one", "Wizard", relation="stock.return.picking"),
            Field("product_id", "many2one", "Product", relation="product.product", required=True),
            Field("quantity", "float", "Quantity", default=0.0),
            Field("move_id", "many2one", "Move", relation="stock.move"),
        ],
        rec_name=None,
    )
    table(
        "sale.order.cancel",
        "Sales Order Cancel",
        [
            Field("order_id", "many2one", "Sale order", relation="sale.order", required=True),
            Field("subject", "char", "Subject"),
            Field("body", "html", "Contents"),
        ],
        rec_name=None,
    )

    declare_models(table, profile)

    for t in tables.values():
        for f in t.fields.values():
            # one2many needs an index on its inverse to be read without a scan
            if f.type == "one2many" and f.relation in tables:
                inverse = tables[f.relation].fields[f.inverse or ""]
                inverse.index = True
    for t in tables.values():
        t.build_indexes()
    return tables
