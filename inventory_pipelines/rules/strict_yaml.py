"""YAML as the rule files need it: a key given twice in one mapping is an error, not "the last
one wins" (a reviewer would read the first value while the engine used the second)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, naming the key and both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Parse one YAML document like `yaml.safe_load`, refusing duplicate keys."""
    return yaml.load(text, Loader=_StrictLoader)
