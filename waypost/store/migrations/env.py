"""Alembic environment: runs on the connection handed in by ``waypost.store.migrate``."""

from __future__ import annotations

from alembic import context

from waypost.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `waypost migrate`, not the alembic command")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
