"""Storage: schema, migrations and every query, behind the ``Store`` interface."""

from __future__ import annotations

import asyncio
import contextlib

from waypost.config import Settings
from waypost.crypto import load_secret_box
from waypost.domain.backoff import Backoff
from waypost.errors import DatabaseUnavailable
from waypost.store.base import Store
from waypost.store.engine import create_engines

__all__ = ["Store", "open_store", "open_store_when_available"]


async def open_store(settings: Settings, *, run_migrations: bool = False) -> Store:
    """The store for ``settings.database_url`` (SQLite or PostgreSQL), migrated if asked."""
    engines = create_engines(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_lock_timeout=settings.sqlite_lock_timeout,
    )
    box = load_secret_box(settings)
    store = Store(engines, box, retry_max=settings.database_retry_max)
    if run_migrations:
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    return store


async def open_store_when_available(settings: Settings, stop: asyncio.Event) -> Store | None:
    """The migrated store, once the database answers; ``None`` if ``stop`` is set first.

    A process started while its database is down waits for it, as it would if the database
    went down later: the store logs the outage once, and the tries back off to
    ``WAYPOST_DATABASE_RETRY_MAX`` seconds apart. Any other failure (a wrong password, a
    missing database) is raised at once.
    """
    store = await open_store(settings)
    backoff = Backoff(settings.database_retry_max)
    try:
        while not stop.is_set():
            try:
                await store.migrate()
                return store
            except DatabaseUnavailable:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff.next())
    except BaseException:
        await store.close()
        raise
    await store.close()
    return None
