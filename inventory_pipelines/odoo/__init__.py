"""A plain client of Odoo's external API (16 to 19): HTTP only, no Dagster.

`OdooClient` speaks JSON-RPC, XML-RPC or JSON-2 over one pooled httpx client, with retries,
a circuit breaker and typed errors; `snapshot` reads products, locations and quants into
Polars frames; `sales` creates, confirms, cancels and returns the sale orders of channels.
"""

from inventory_pipelines.odoo.client import OdooClient
from inventory_pipelines.odoo.config import OdooConfig
from inventory_pipelines.odoo.errors import (
    OdooAccessError,
    OdooAuthenticationError,
    OdooCircuitOpenError,
    OdooError,
    OdooMissingError,
    OdooServerError,
    OdooUnavailableError,
    OdooUnsupportedVersionError,
    OdooUserError,
)
from inventory_pipelines.odoo.sales import OdooSales, SaleLine, SaleOrder
from inventory_pipelines.odoo.snapshot import (
    LOCATIONS_SCHEMA,
    PRODUCTS_SCHEMA,
    QUANTS_SCHEMA,
    read_locations,
    read_products,
    read_quants,
)
from inventory_pipelines.odoo.version import OdooVersion

__all__ = [
    "LOCATIONS_SCHEMA",
    "PRODUCTS_SCHEMA",
    "QUANTS_SCHEMA",
    "OdooAccessError",
    "OdooAuthenticationError",
    "OdooCircuitOpenError",
    "OdooClient",
    "OdooConfig",
    "OdooError",
    "OdooMissingError",
    "OdooSales",
    "OdooServerError",
    "OdooUnavailableError",
    "OdooUnsupportedVersionError",
    "OdooUserError",
    "OdooVersion",
    "SaleLine",
    "SaleOrder",
    "read_locations",
    "read_products",
    "read_quants",
]
