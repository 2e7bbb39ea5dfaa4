"""Alembic environment for the ledger, run by `inventory_pipelines.ledger.db.migrate`.

`migrate` hands over an open connection in `config.attributes["connection"]`; without one
(the `alembic` command line pointed at this folder), the URL comes from `sqlalchemy.url`
or `$INVENTORY_LEDGER_URL`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from inventory_pipelines.ledger.db import create_engine
from inventory_pipelines.ledger.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; later migrations need batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new engine."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the ledger migrations run online only (use ledger.db.migrate)")
run_migrations_online()
