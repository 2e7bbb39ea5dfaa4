"""Fixtures every test package may use: a real PostgreSQL beside SQLite (see pg.py)."""

pytest_plugins = ("inventory_pipelines_tests.pg",)
