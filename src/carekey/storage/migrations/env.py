"""Alembic environment: always run programmatically (``carekey.storage.database.Database.migrate``)
with a connection passed in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from carekey.storage.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
