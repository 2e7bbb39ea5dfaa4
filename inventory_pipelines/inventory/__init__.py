"""Canonical inventory: pure Polars functions from the Odoo snapshot to (sku, warehouse) rows."""
