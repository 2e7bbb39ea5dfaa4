"""Shell-style SKU and location patterns, as regular expressions Polars understands."""

from __future__ import annotations

import re


def glob_to_regex(pattern: str) -> str:
    """`*` any run of characters, `?` one character, anchored at both ends."""
    escaped = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return f"^{escaped}$"
