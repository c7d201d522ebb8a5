"""Database engines for the two supported URLs.

``postgresql://...`` runs on asyncpg with one pooled async engine.

``sqlite:///path`` runs in WAL mode on Python's own ``sqlite3``, called inline on the
event loop rather than through a driver thread (aiosqlite). A statement on a local
SQLite file takes microseconds; handing each one to a thread and back took about
0.2 ms (measured: 221 µs for ``SELECT 1`` through SQLAlchemy and aiosqlite, 48 µs
inline) and, under load, made the loop and the driver threads queue for the GIL,
which bounded single-event ingest at about 200 requests/s. Writes go through one
connection (SQLite has a single writer anyway), taken under an ``asyncio.Lock`` so a
waiting writer never blocks the loop, and its commit runs in a thread, since that is
where the disk is written; reads use a pool that grows instead of blocking.

Another process's write (the CLI, a backup, someone's ``BEGIN EXCLUSIVE``) holds the
file's lock. SQLite's own busy handler would wait for it inline, stalling the whole
process, sends and health checks included, for as long as the lock is held. So the
writer asks without waiting and, while the lock is taken, tries again after short
``asyncio.sleep``s, for up to ``WAYPOST_SQLITE_LOCK_TIMEOUT`` seconds; then the write
fails as ``DatabaseUnavailable`` (503 with ``Retry-After`` to an API client, a pause
and another try for a background loop). WAL readers do not wait for writers at all;
their busy handler, for the rare moments another connection holds the WAL index
(recovery after a crash), waits at most ``_READ_BUSY_MS`` inline.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncResult, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.base import Executable

from waypost.errors import ConfigurationError
from waypost.store.outage import sqlite_locked

SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_READ_BUSY_MS = 1000
# Pauses between tries for another process's write lock: as short as SQLite's own busy
# handler starts with, growing to its longest sleep.
_LOCK_PAUSE_FIRST = 0.001
_LOCK_PAUSE_MAX = 0.1

P = ParamSpec("P")
T = TypeVar("T")


class Connection(Protocol):
    """What the queries use of a connection: asyncpg's through SQLAlchemy's
    ``AsyncConnection``, or SQLite's ``InlineConnection``."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        """Run one statement (``parameters`` a list of dicts runs it for each)."""

    @property
    def dialect(self) -> sa.Dialect:
        """The database's SQLAlchemy dialect."""

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        """Run one SQL string as it is (``parameters`` a list of tuples runs it for each)."""

    def stream(self, statement: Executable) -> Awaitable[AsyncResult[Any]]:
        """Run a query whose rows are fetched as they are iterated."""

    async def get_raw_connection(self) -> PoolProxiedConnection:
        """The pooled DBAPI connection, for what only the driver does (COPY)."""

    async def run_sync(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Call ``fn`` with the synchronous connection (Alembic, schema comparison)."""


class InlineConnection:
    """A synchronous SQLAlchemy connection behind the async interface the queries use."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    @property
    def dialect(self) -> sa.Dialect:
        return self._connection.dialect

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        return self._connection.exec_driver_sql(statement, parameters)

    async def get_raw_connection(self) -> PoolProxiedConnection:
        return self._connection.connection

    async def stream(self, statement: Executable) -> AsyncResult[Any]:
        # sqlite3 steps its cursor as rows are fetched: nothing is read ahead of the consumer.
        return AsyncResult(self._connection.execute(statement))

    async def run_sync(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return fn(self._connection, *args, **kwargs)


class Engines(ABC):
    """Write transactions and read connections, on either database."""

    dialect: str

    @abstractmethod
    def begin(self) -> AbstractAsyncContextManager[Connection]:
        """One write transaction, committed when the block ends without an exception."""

    @abstractmethod
    def connect(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads."""

    @abstractmethod
    async def dispose(self) -> None:
        """Close every connection."""


class PostgresEngines(Engines):
    dialect = "postgresql"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def dsn(self) -> str:
        """The URL for a connection of asyncpg's own, outside the pool (LISTEN)."""
        url = self._engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        async with self._engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        async with self._engine.connect() as connection:
            yield connection

    async def dispose(self) -> None:
        await self._engine.dispose()


class SqliteEngines(Engines):
    dialect = "sqlite"

    def __init__(self, write: Engine, read: Engine, *, lock_timeout: float) -> None:
        self._write = write
        self._read = read
        self._writer = asyncio.Lock()
        self._lock_timeout = lock_timeout

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        # The wait for another process's lock counts from here: writers queued behind one
        # that is waiting for it give up together, not one lock timeout after another.
        deadline = asyncio.get_running_loop().time() + self._lock_timeout
        async with self._writer:
            with self._write.connect() as connection:
                transaction = await self._begin(connection, deadline)
                try:
                    yield InlineConnection(connection)
                except BaseException:
                    transaction.rollback()
                    raise
                # The commit writes the WAL and, every thousand pages, checkpoints it into
                # the database file with an fsync: in a thread, the loop sends meanwhile.
                await asyncio.to_thread(transaction.commit)

    async def _begin(self, connection: sa.Connection, deadline: float) -> sa.RootTransaction:
        """``BEGIN IMMEDIATE``, tried at least once and, while another process holds the
        write lock, again until ``deadline`` (the loop's time) without blocking the loop;
        then SQLite's "database is locked"."""
        loop = asyncio.get_running_loop()
        pause = _LOCK_PAUSE_FIRST
        while True:
            try:
                return connection.begin()
            except OperationalError as exc:
                if not sqlite_locked(exc) or loop.time() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LOCK_PAUSE_MAX)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        with self._read.connect() as connection:
            yield InlineConnection(connection)

    async def dispose(self) -> None:
        self._write.dispose()
        self._read.dispose()


def driver_url(url: str) -> str:
    """Map a user-facing URL to its driver URL."""
    if url.startswith(("sqlite:///", "sqlite+pysqlite:///")):
        return "sqlite+pysqlite:///" + url.split(":///", 1)[1]
    for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ConfigurationError(
        f"WAYPOST_DATABASE_URL: unsupported database URL {url.split(':', 1)[0]!r}; "
        "use sqlite:///path or postgresql://user@host/db"
    )


def _sqlite_engine(
    url: str, *, synchronous: str, immediate: bool, busy_ms: int, **pool: Any
) -> Engine:
    engine = sa.create_engine(url, **pool)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so another process's commit cannot
        # make this transaction fail half-way with SQLITE_BUSY.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_engines(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    sqlite_lock_timeout: float = 5.0,
    pool_size: int = 10,
) -> Engines:
    """Open the engines for ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    target = driver_url(url)
    if target.startswith("sqlite"):
        if sqlite_synchronous.upper() not in SQLITE_SYNCHRONOUS:
            raise ConfigurationError(
                f"WAYPOST_SQLITE_SYNCHRONOUS: expected one of {', '.join(SQLITE_SYNCHRONOUS)}"
            )
        mode = sqlite_synchronous.upper()
        write = _sqlite_engine(
            target,
            synchronous=mode,
            immediate=True,
            # No inline wait: ``SqliteEngines._begin`` waits for the lock asynchronously.
            busy_ms=0,
            pool_size=1,
            max_overflow=0,
            # Commits run in a thread, always under the writer lock: one at a time.
            connect_args={"check_same_thread": False},
        )
        # A reader that streams holds its connection across awaits; more readers than
        # pooled connections get a new one rather than a wait that would block the loop.
        read = _sqlite_engine(
            target,
            synchronous=mode,
            immediate=False,
            busy_ms=_READ_BUSY_MS,
            pool_size=4,
            max_overflow=-1,
        )
        return SqliteEngines(write, read, lock_timeout=sqlite_lock_timeout)
    # No overflow: under load, connections opened beyond the pool were closed again as soon
    # as they were returned, and opening one (with its TLS handshake) cost more than waiting.
    return PostgresEngines(create_async_engine(target, pool_size=pool_size, max_overflow=0))
