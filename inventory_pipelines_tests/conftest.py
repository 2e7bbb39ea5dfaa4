"""Fixtures every test package may use: a real PostgreSQL beside SQLite (see pg.py), a copy of
the shipped rules folder (rules_files.py)."""

pytest_plugins = ("inventory_pipelines_tests.pg", "inventory_pipelines_tests.rules_files")
