"""Dagster objects by domain, loaded by `definitions.py` with `dg.load_from_defs_folder`."""
