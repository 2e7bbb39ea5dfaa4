"""The audit log: who changed what inventory-affecting state, when, from where, before and after.

Every row carries the time (aware UTC), the actor (a person or a process), the source
system, a correlation id tying it to a run or request, the action, the entity and JSON
snapshots before and after. Secrets are never stored (DESIGN.md section 8): `record` refuses
any key in `before`/`after` that names a credential, so a careless caller fails loudly
instead of leaking a token into a table that is kept forever.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger.db import read_transaction, write_transaction
from inventory_pipelines.ledger.schema import audit_log

_SECRET_KEY = re.compile(
    r"(passw(or)?d|secret|token|api[_-]?key|authorization|credential|cookie|private[_-]?key)",
    re.IGNORECASE,
)


class SecretInPayloadError(ValueError):
    """A value bound for the ledger carries a key that names a credential."""


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: dt.datetime
    actor: str
    source: str
    correlation_id: str | None
    action: str
    entity: str
    before: Any
    after: Any


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


#: the keys that name the other entry of a name/value pair: WooCommerce's ``meta_data``
#: (``{"key": "api_key", "value": ...}``), Shopify's ``note_attributes`` (``{"name", "value"}``)
_PAIR_NAMES = ("key", "name")


def _names_a_credential(pair: Mapping[Any, Any]) -> bool:
    """Whether `pair` is a name/value pair whose name is a credential's."""
    return "value" in pair and any(
        isinstance(pair.get(name), str) and _SECRET_KEY.search(pair[name]) for name in _PAIR_NAMES
    )


def ensure_no_secrets(value: Any, where: str = "payload") -> None:
    """Raise `SecretInPayloadError` if any mapping key inside `value` names a credential, or a
    name/value pair (`{"key": "api_key", "value": ...}`) holds one."""
    if isinstance(value, Mapping):
        if _names_a_credential(value):
            raise SecretInPayloadError(f"{where}: a name/value pair holds a credential")
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)):
                raise SecretInPayloadError(f"{where}: key {key!r} looks like a credential")
            ensure_no_secrets(item, where)
    elif isinstance(value, list | tuple):
        for item in value:
            ensure_no_secrets(item, where)


def masked(value: Any) -> Any:
    """A copy of the JSON `value` without the entries whose key names a credential, and
    without the value of a name/value pair whose name does (`{"key": "api_key", "value":
    ...}` keeps its key), at any depth; the rest kept as it is. `ensure_no_secrets` refuses
    such a key whatever its value (even ``"***"``), so the entry goes, not just its value:
    what is left it accepts."""
    if isinstance(value, Mapping):
        pair = _names_a_credential(value)
        return {
            key: masked(item)
            for key, item in value.items()
            if not _SECRET_KEY.search(str(key)) and not (pair and key == "value")
        }
    if isinstance(value, list | tuple):
        return [masked(item) for item in value]
    return value


def record(
    conn: Connection,
    *,
    actor: str,
    source: str,
    action: str,
    entity: str,
    before: Any = None,
    after: Any = None,
    correlation_id: str | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one audit row and return its id; `before`/`after` must be JSON, without secrets."""
    ensure_no_secrets(before, "audit before")
    ensure_no_secrets(after, "audit after")
    with write_transaction(conn):
        result = conn.execute(
            audit_log.insert()
            .values(
                at=at or utcnow(),
                actor=actor,
                source=source,
                correlation_id=correlation_id,
                action=action,
                entity=entity,
                before=before,
                after=after,
            )
            .returning(audit_log.c.id)
        )
        return int(result.scalar_one())


def record_many(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append many audit rows in one executemany; each entry holds `record`'s arguments."""
    if not entries:
        return
    rows = []
    for entry in entries:
        ensure_no_secrets(entry.get("before"), "audit before")
        ensure_no_secrets(entry.get("after"), "audit after")
        rows.append(
            {
                "at": entry.get("at") or utcnow(),
                "actor": entry["actor"],
                "source": entry["source"],
                "correlation_id": entry.get("correlation_id"),
                "action": entry["action"],
                "entity": entry["entity"],
                "before": entry.get("before"),
                "after": entry.get("after"),
            }
        )
    with write_transaction(conn):
        conn.execute(audit_log.insert(), rows)


def history(
    conn: Connection,
    *,
    entity: str | None = None,
    correlation_id: str | None = None,
    action: str | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit rows, oldest first, filtered by entity, correlation id and/or action."""
    query = sa.select(audit_log).order_by(audit_log.c.id).limit(limit)
    if entity is not None:
        query = query.where(audit_log.c.entity == entity)
    if correlation_id is not None:
        query = query.where(audit_log.c.correlation_id == correlation_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with read_transaction(conn):
        return [AuditEntry(**row._mapping) for row in conn.execute(query)]
