"""SQLite: what differs from PostgreSQL, and why.

SQLite is the store of ``waypost serve``: one process on one machine, and SQLite lets
one writer at a time into the database, so most of what PostgreSQL needs locks and
signals for is settled by that alone.

- Connections: Python's own ``sqlite3`` called inline on the event loop, WAL mode, one
  write connection taken under an ``asyncio.Lock`` and transactions that begin
  ``IMMEDIATE`` (``engine.SqliteEngines``, whose docstring says why).
- Types (``schema.py``, SQLAlchemy's own mechanisms): ids are 32 hex digits (``sa.Uuid``
  where there is no native type), times naive UTC text in one fixed format
  (``UTCDateTime`` drops the zone when it binds), so comparing and ordering them as
  strings is correct; ``attempts.id`` is an ``INTEGER`` (``with_variant``), which
  SQLite numbers by itself; ``ix_deliveries_due`` a partial index (``sqlite_where``).
- Ids and times as text (listing, routing): cut from what is stored with ``substr``,
  in C, rather than by Python type processors per row; a minute bucket (dashboard) is
  the stored text's first 16 characters.
- Claims of deliveries and reports: a plain ``UPDATE ... WHERE id IN (SELECT ...)``;
  the write transaction it runs in already excludes every other claim.
- Creating subscriptions: no lock; writers are serialised.
- Due work: announced only in-process (the API sets the dispatcher's ``wakeup``); there
  is no other process to tell.
- Bulk writes: ids and times are encoded here as the column types would (a UUID to hex,
  an aware datetime to naive UTC text), since that per-row processing cost more than
  the insert; there is no bulk load, the prepared INSERT runs for every row.
- Text matching: ``LIKE`` (a report's keywords) ignores ASCII case here and not on
  PostgreSQL, and a NUL character is stored like any other (PostgreSQL refuses it).
- Migrations: Alembic's batch mode (``render_as_batch`` in ``migrations/env.py``)
  rebuilds tables, since SQLite cannot ALTER most things; it applies to both databases
  but is there for SQLite. No lock: the migration's write transaction is the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from waypost.store.dialect import Dialect, Encoder, Query
from waypost.store.engine import Connection
from waypost.store.outage import DatabaseHealth
from waypost.store.schema import UTCDateTime


class SqliteDialect(Dialect):
    name = "sqlite"

    def id_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        digits = [
            sa.func.substr(column, start, length, type_=sa.String)
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        ]
        text: sa.ColumnElement[str] = digits[0]
        for part in digits[1:]:
            text = text + "-" + part
        return text

    def utc_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        # Stored so already: naive UTC, "YYYY-MM-DD HH:MM:SS.ffffff".
        return sa.type_coerce(column, sa.String)

    def minute_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.func.substr(column, 1, 16)

    def claimable(self, query: Query) -> Query:
        # The claim is one UPDATE in a write transaction, which SQLite serialises.
        return query

    async def lock_subscription_keys(
        self, connection: Connection, tenant_id: str, tracking_keys: Sequence[str], url: str
    ) -> None:
        # The duplicate check runs in a write transaction, which SQLite serialises.
        return

    async def announce_work(self, connection: Connection) -> None:
        # No other process to tell; in this one, the API sets the dispatcher's wakeup.
        return

    def work_signals(
        self, wakeup: asyncio.Event, *, health: DatabaseHealth, retry_max: float
    ) -> AbstractAsyncContextManager[None]:
        return nullcontext()

    @staticmethod
    def encoder(type_: sa.types.TypeEngine[Any]) -> Encoder:
        if isinstance(type_, sa.Uuid):
            return _id
        if isinstance(type_, UTCDateTime):
            return _time
        return _as_is

    @staticmethod
    async def bulk_load(
        connection: Connection, into: tuple[str, Sequence[str]], rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        return False

    @staticmethod
    def lock_migrations(connection: sa.Connection) -> None:
        # The migration's transaction began IMMEDIATE: it holds the one write lock already.
        return


def _id(value: str) -> str:
    # sa.Uuid(as_uuid=False) stores 32 hex digits where there is no native UUID type.
    return value.replace("-", "")


@lru_cache(maxsize=1024)
def _time(value: datetime) -> str:
    # UTCDateTime stores naive UTC, and SQLite's DATETIME writes it in this one format.
    # Cached: the rows of one insert mostly share their times.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _as_is(value: Any) -> Any:
    return value
