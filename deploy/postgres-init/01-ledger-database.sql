-- Run once by the postgres image when its volume is new (docker-entrypoint-initdb.d): the ledger
-- gets a database of its own beside Dagster's (both use Alembic, so they cannot share one).
-- INVENTORY_LEDGER_URL=postgresql://<user>:<password>@postgresql:5432/inventory_ledger
CREATE DATABASE inventory_ledger;
