"""Inventory sync between Odoo and sales channels, on Dagster."""
