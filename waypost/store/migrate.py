"""Running the Alembic migrations from code (``waypost migrate`` and start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from waypost.store.dialect import dialect_named
from waypost.store.engine import Engines

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    dialect_named(connection.dialect.name).lock_migrations(connection)
    command.upgrade(alembic_config(connection), "head")


async def migrate(engines: Engines) -> None:
    """Bring the database to the newest schema; safe to run concurrently and repeatedly."""
    async with engines.begin() as connection:
        await connection.run_sync(_upgrade)
