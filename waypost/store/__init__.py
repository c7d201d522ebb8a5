"""Storage: schema, migrations and every query, behind the ``Store`` interface."""

from __future__ import annotations

from waypost.config import Settings
from waypost.crypto import load_secret_box
from waypost.store.base import Store
from waypost.store.engine import create_engines
from waypost.store.migrate import migrate

__all__ = ["Store", "open_store"]


async def open_store(settings: Settings, *, run_migrations: bool = False) -> Store:
    """The store for ``settings.database_url`` (SQLite or PostgreSQL), migrated if asked."""
    engines = create_engines(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    box = load_secret_box(settings)
    if run_migrations:
        await migrate(engines)
    return Store(engines, box)
