"""Alembic environment: migrations run on the connection strongroom.catalog.schema hands over.

That connection is already inside the caller's transaction (BEGIN IMMEDIATE on SQLite, under an
advisory lock on PostgreSQL), so the whole upgrade commits or rolls back as one.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "The catalog migrations run when Strongroom opens a catalog (strongroom.catalog.open_catalog), "
        "not from the alembic command line."
    )
context.configure(connection=connection, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
