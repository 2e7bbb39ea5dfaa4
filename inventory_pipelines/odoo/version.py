"""Which Odoo the server runs, read from `common.version()` or `/web/webclient/version_info`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inventory_pipelines.odoo.errors import OdooUnsupportedVersionError

__all__ = ["SUPPORTED_MAJORS", "OdooVersion"]

SUPPORTED_MAJORS = range(16, 20)

_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class OdooVersion:
    """An Odoo server version: 17.0 Community is `OdooVersion(17, 0, "17.0", False)`."""

    major: int
    minor: int
    serie: str
    enterprise: bool

    @classmethod
    def from_server_info(cls, info: Mapping[str, Any]) -> OdooVersion:
        """Parse the dict returned by `common.version()`; refuse versions outside 16 to 19.

        `server_version_info` is `[17, 0, 0, 'final', 0, 'e']` on a 17.0 Enterprise, and
        `['saas~18', 4, ...]` on an Online saas-18.4, hence the lenient number parsing.
        """
        raw = info.get("server_version_info") or []
        version = str(info.get("server_version") or "")
        serie = str(info.get("server_serie") or version)
        try:
            major, minor = _number(raw[0]), _number(raw[1])
        except (IndexError, TypeError, ValueError):
            numbers = [int(n) for n in _NUMBER.findall(serie)]
            if len(numbers) < 2:
                raise OdooUnsupportedVersionError(
                    f"cannot read the Odoo version from {version or serie or info!r}",
                    method="version",
                ) from None
            major, minor = numbers[0], numbers[1]
        enterprise = version.endswith("+e") or (len(raw) > 5 and raw[5] == "e")
        parsed = cls(major=major, minor=minor, serie=serie, enterprise=enterprise)
        if major not in SUPPORTED_MAJORS:
            raise OdooUnsupportedVersionError(
                f"Odoo {serie or major} is not supported: this client speaks Odoo "
                f"{SUPPORTED_MAJORS.start} to {SUPPORTED_MAJORS.stop - 1}",
                method="version",
            )
        return parsed

    @property
    def has_json2(self) -> bool:
        """Whether the server offers the JSON-2 API (Odoo 19, and Online saas-18.4)."""
        return (self.major, self.minor) >= (18, 4)


def _number(value: Any) -> int:
    if isinstance(value, int):
        return value
    match = _NUMBER.search(str(value))
    if match is None:
        raise ValueError(value)
    return int(match.group(1))
