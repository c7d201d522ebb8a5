"""Database engines for the two supported URLs.

``sqlite:///path`` runs on aiosqlite in WAL mode with two engines: one
connection for writes (SQLite has a single writer anyway; one connection
avoids lock contention between our own connections) and a small pool for
reads. ``postgresql://...`` runs on asyncpg with one pooled engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from waypost.errors import ConfigurationError

SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


@dataclass(frozen=True, kw_only=True)
class Engines:
    """The engine that takes writes and the one that serves reads (the same on PostgreSQL)."""

    dialect: str
    write: AsyncEngine
    read: AsyncEngine

    async def dispose(self) -> None:
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()


def driver_url(url: str) -> str:
    """Map a user-facing URL to its async driver URL."""
    if url.startswith(("sqlite:///", "sqlite+aiosqlite:///")):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ConfigurationError(
        f"WAYPOST_DATABASE_URL: unsupported database URL {url.split(':', 1)[0]!r}; "
        "use sqlite:///path or postgresql://user@host/db"
    )


def _sqlite_engine(url: str, *, pool_size: int, synchronous: str, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so another process's commit cannot
        # make this transaction fail half-way with SQLITE_BUSY.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_engines(url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 10) -> Engines:
    """Open the engines for ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    target = driver_url(url)
    if target.startswith("sqlite"):
        if sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
            raise ConfigurationError(
                f"WAYPOST_SQLITE_SYNCHRONOUS: expected one of {', '.join(SQLITE_SYNCHRONOUS)}"
            )
        mode = sqlite_synchronous.upper()
        write = _sqlite_engine(target, pool_size=1, synchronous=mode, immediate=True)
        read = _sqlite_engine(target, pool_size=4, synchronous=mode, immediate=False)
        return Engines(dialect="sqlite", write=write, read=read)
    engine = create_async_engine(target, pool_size=pool_size, max_overflow=pool_size)
    return Engines(dialect="postgresql", write=engine, read=engine)
