"""What differs between the emulated Odoo versions (16.0 to 19.0).

Each fact here comes from Odoo's own source for that branch; the emulator reads these flags
instead of scattering version checks through the models.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_VERSIONS = (16, 17, 18, 19)


@dataclass(frozen=True)
class VersionProfile:
    """The behaviour of one major Odoo version as seen through the external API."""

    major: int
    #: ``type='product'`` (+ ``detailed_type``) up to 17; ``is_storable`` from 18.
    storable_flag: str
    #: ``uom.category`` + ``factor``/``uom_type`` up to 18; ``relative_factor`` on 19.
    uom_categories: bool
    has_read_group: bool
    read_group_deprecated: bool
    has_formatted_read_group: bool
    has_json2: bool
    #: ``locked`` flag on sale.order (17+) versus a ``done`` state (16).
    sale_locked_flag: bool
    #: ``quantity``/``picked`` on stock.move (17+) versus ``quantity_done`` (16).
    move_quantity_field: str
    #: domain operators ``any``/``not any`` (17+).
    has_any_operator: bool
    #: ``stock.location.scrap_location`` (up to 18).
    has_scrap_location: bool
    #: context keys restricting product quantities.
    qty_warehouse_key: str
    #: sale.order.line unit field (``product_uom`` up to 18, ``product_uom_id`` on 19).
    sale_line_uom_field: str
    #: ``name_get`` exists up to 16.
    has_name_get: bool
    #: when a webhook server action (17+) sends its POST: inside the transaction, before the
    #: commit (17, 18), after the commit (19), or never (16 has no webhook action)
    webhook_timing: str | None = None

    @property
    def server_version(self) -> str:
        """``"17.0"`` and so on (community edition)."""
        return f"{self.major}.0"

    def version_info(self) -> dict[str, object]:
        """The dict ``common.version()`` and ``/web/webclient/version_info`` return."""
        return {
            "server_version": self.server_version,
            "server_version_info": [self.major, 0, 0, "final", 0, ""],
            "server_serie": self.server_version,
            "protocol_version": 1,
        }

    def private_method_message(self, model: str, method: str) -> str:
        """Odoo's AccessError text for a private method (``get_public_method`` from 18)."""
        if self.major >= 18:
            return f"Private methods (such as '{model}.{method}') cannot be called remotely."
        return f"Private methods (such as {method}) cannot be called remotely."

    def missing_method_message(self, model: str, method: str) -> str:
        """Odoo's AttributeError text for a public method the model does not have."""
        if self.major >= 18:
            return f"The method '{model}.{method}' does not exist"
        if self.major == 17:
            return f"The method '{method}' does not exist on the model '{model}'"
        return f"type object '{model}' has no attribute '{method}'"

    @property
    def purchase_locked_flag(self) -> bool:
        """``locked`` flag on purchase.order (19, from saas-18.3) versus a ``done`` state."""
        return self.major >= 19

    @property
    def purchase_states(self) -> tuple[tuple[str, str], ...]:
        """purchase.order ``state`` selection (``done``, "Locked", up to 18)."""
        states = [
            ("draft", "RFQ"),
            ("sent", "RFQ Sent"),
            ("to approve", "To Approve"),
            ("purchase", "Purchase Order"),
        ]
        if not self.purchase_locked_flag:
            states.append(("done", "Locked"))
        states.append(("cancel", "Cancelled"))
        return tuple(states)

    @property
    def purchase_line_uom_field(self) -> str:
        """purchase.order.line unit field: renamed with the sale line's on 19."""
        return self.sale_line_uom_field

    @property
    def supplierinfo_uom_field(self) -> str:
        """product.supplierinfo unit: ``product_uom`` (the template's purchase unit) up to 18,
        a stored ``uom_id`` of its own on 19."""
        return "product_uom" if self.major <= 18 else "uom_id"

    @property
    def dropship_picking_code(self) -> str:
        """The code of stock_dropshipping's operation type: ``incoming`` on 16, a code of its
        own, ``dropship``, from 17."""
        return "incoming" if self.major <= 16 else "dropship"

    @property
    def sale_states(self) -> tuple[tuple[str, str], ...]:
        """sale.order ``state`` selection."""
        states = [
            ("draft", "Quotation"),
            ("sent", "Quotation Sent"),
            ("sale", "Sales Order"),
        ]
        if not self.sale_locked_flag:
            states.append(("done", "Locked"))
        states.append(("cancel", "Cancelled"))
        return tuple(states)


PROFILES: dict[int, VersionProfile] = {
    major: VersionProfile(
        major=major,
        storable_flag="type" if major <= 17 else "is_storable",
        uom_categories=major <= 18,
        has_read_group=True,
        read_group_deprecated=major >= 19,
        has_formatted_read_group=major >= 19,
        has_json2=major >= 19,
        sale_locked_flag=major >= 17,
        move_quantity_field="quantity_done" if major == 16 else "quantity",
        has_any_operator=major >= 17,
        has_scrap_location=major <= 18,
        qty_warehouse_key="warehouse" if major <= 17 else "warehouse_id",
        sale_line_uom_field="product_uom" if major <= 18 else "product_uom_id",
        has_name_get=major <= 16,
        webhook_timing=None if major <= 16 else "precommit" if major <= 18 else "postcommit",
    )
    for major in SUPPORTED_VERSIONS
}


def get_profile(version: int | str) -> VersionProfile:
    """The profile for ``16``, ``"17"``, ``"18.0"`` and so on."""
    major = int(float(str(version).split("+")[0]))
    try:
        return PROFILES[major]
    except KeyError:
        raise ValueError(
            f"unsupported Odoo version {version!r}; choose one of {SUPPORTED_VERSIONS}"
        ) from None
