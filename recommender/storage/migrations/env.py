"""Alembic's entry: upgrades the connection the service hands over, or the database DATABASE_URL names.

The service upgrades its database at start (recommender.storage.schema); `alembic upgrade head`
from the repository root does the same by hand.
"""

from __future__ import annotations

from alembic import context

from config import Config
from recommender.storage.schema import connected


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    with connected(Config.from_env().feedback_db) as connection:
        _migrate(connection)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


run()
