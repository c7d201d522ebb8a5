"""Running the Alembic migrations from code (``waypost migrate`` and start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from waypost.store.engine import Engines

MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works: it only has to be the same in every waypost process.
_MIGRATION_LOCK = 0x57A7_9057


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several api/worker processes may start at once; one migrates, the others wait.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


async def migrate(engines: Engines) -> None:
    """Bring the database to the newest schema; safe to run concurrently and repeatedly."""
    async with engines.begin() as connection:
        await connection.run_sync(_upgrade)
