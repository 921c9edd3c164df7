"""Alembic environment shared by every service: the connection comes from `Database.migrate`."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through wom_chassis.Database.migrate or the service CLI")

context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
