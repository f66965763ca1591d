"""Alembic environment: runs on the connection Heron hands over, never on its own."""

from alembic import context

from heron.meta.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
