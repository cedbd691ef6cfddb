"""Alembic environment: runs migrations on the connection territory hands it."""

from __future__ import annotations

from alembic import context

from territory.storage.tables import metadata

target_metadata = metadata


def run_migrations_online() -> None:
    """Run migrations on the connection passed in ``config.attributes``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "territory migrations run through territory.storage.engine.migrate()"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
