"""The dialect interface: every way SQLite and PostgreSQL differ, as one object.

The queries are written once, in SQLAlchemy Core; where the two databases must be
told apart, the store asks its ``Dialect`` (``self._dialect``) rather than testing
``dialect == ...``. ``sqlite.py`` and ``postgres.py`` implement it in full, and their
docstrings list what differs and why.

A store holds a ``Dialect`` bound to its engines (``dialect_for``). Bulk writes and
migrations have only a connection at hand, so what they ask is on the class (static
methods), found by the connection's dialect name (``dialect_named``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import cache
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa

from waypost.store.engine import Connection, Engines
from waypost.store.outage import DatabaseHealth

Encoder = Callable[[Any], Any]
"""Turns one value into what the driver stores for its column type."""

Query = TypeVar("Query", bound=sa.Select[Any])


class Dialect(ABC):
    """What differs between the databases; one instance per store."""

    name: ClassVar[str]
    """SQLAlchemy's name of the database: ``sqlite`` or ``postgresql``."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines

    # SQL expressions.

    @abstractmethod
    def id_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        """An id column as its 36-character text, made by the database rather than by a
        Python type processor per row."""

    @abstractmethod
    def utc_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        """A time column as UTC text that begins ``YYYY-MM-DD HH:MM:SS``, made by the
        database rather than by a Python type processor per row."""

    @abstractmethod
    def minute_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        """The minute of a time column as ``YYYY-MM-DD HH:MM`` text, in UTC."""

    # Claims and locks.

    @abstractmethod
    def claimable(self, query: Query) -> Query:
        """``query``, selecting rows for a claim (an ``UPDATE ... WHERE id IN (query)``),
        such that concurrent claims take different rows."""

    @abstractmethod
    async def lock_subscription_keys(
        self, connection: Connection, tenant_id: str, tracking_keys: Sequence[str], url: str
    ) -> None:
        """Serialise concurrent creates of one (tenant, tracking id, url) until the
        transaction of ``connection`` ends."""

    # Work signals between processes.

    @abstractmethod
    async def announce_work(self, connection: Connection) -> None:
        """Tell dispatchers in other processes that deliveries are due, when the
        transaction of ``connection`` commits."""

    @abstractmethod
    def work_signals(
        self, wakeup: asyncio.Event, *, health: DatabaseHealth, retry_max: float
    ) -> AbstractAsyncContextManager[None]:
        """While open, ``wakeup`` is set whenever another process announces due work; a
        loop that listens reports outages to ``health`` and pauses at most ``retry_max``
        seconds between tries."""

    # Bulk writes (``bulk.py``) and migrations (``migrate.py``): only a connection at hand.

    @staticmethod
    @abstractmethod
    def encoder(type_: sa.types.TypeEngine[Any]) -> Encoder:
        """How a value of ``type_`` is handed to the driver in a bulk write: exactly as the
        column type's own processing would (the store's tests compare the two)."""

    @staticmethod
    @abstractmethod
    async def bulk_load(
        connection: Connection, into: tuple[str, Sequence[str]], rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Insert ``rows`` into ``into`` (table, columns) by the database's own bulk load,
        in the caller's transaction, if that is the faster way for so many rows; whether
        it did (if not, the caller runs its prepared INSERT for every row)."""

    @staticmethod
    @abstractmethod
    def lock_migrations(connection: sa.Connection) -> None:
        """Make a concurrent migration of the same database wait for this transaction."""


@cache
def dialect_named(name: str) -> type[Dialect]:
    """The dialect whose SQLAlchemy name is ``name`` (``connection.dialect.name``)."""
    # Imported here, not above: each implementation imports this module for its base class.
    from waypost.store.postgres import PostgresDialect
    from waypost.store.sqlite import SqliteDialect

    kinds: tuple[type[Dialect], ...] = (SqliteDialect, PostgresDialect)
    return {kind.name: kind for kind in kinds}[name]


def dialect_for(engines: Engines) -> Dialect:
    """The dialect of the database that ``engines`` open, bound to them."""
    return dialect_named(engines.dialect)(engines)
