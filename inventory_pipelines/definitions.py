"""The code location: every object under `defs/`, with the resources of the environment."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Load the `defs/` folder (each domain's module contributes its own `defs()`)."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
