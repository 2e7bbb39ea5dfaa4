"""The ledger: what must be transactional and never lost (DESIGN.md section 4).

SQLAlchemy Core over SQLite (WAL, the default) or PostgreSQL, with Alembic migrations that
ship in this package. It knows SQL only: no HTTP, no Dagster, no channels; callers pass plain
values. Modules:

- `db`: engines, write/read transactions, `migrate(url)`;
- `schema`: the tables;
- `outbox`: publishes written before they are sent, batched in a safe order;
- `state`: the last acknowledged quantity per channel listing (delta-only publishing);
- `dlq`: the dead-letter queue and its replay;
- `audit`: who changed what, when, before and after;
- `inbox`: channel order events stored once, claimed for ingestion, the order-to-Odoo
  mapping and the pending units the allocation subtracts;
- `dirty`: the SKUs that changed in Odoo and wait for the batch, claimed by a run and cleared
  once it succeeded;
- `reconciliation`: the drift a run saw and what its publish corrected, in the audit log.
- `overrides`: manual overrides and emergency stops, approved by a second person, audited.

No table holds a credential: payloads, errors and audit snapshots carry business values only.
"""

from inventory_pipelines.ledger import audit, dlq, inbox, outbox, state
from inventory_pipelines.ledger.db import LedgerConfigError, create_engine, default_url, migrate

__all__ = [
    "LedgerConfigError",
    "audit",
    "create_engine",
    "default_url",
    "dlq",
    "inbox",
    "migrate",
    "outbox",
    "state",
]
