"""PostgreSQL: what differs from SQLite, and why.

PostgreSQL is the store of ``waypost api`` and ``waypost worker``: many processes on
many hosts share one database, so what two of them may do at once is settled by the
database's locks, and due work is announced from one process to the others.

- Connections: asyncpg through SQLAlchemy's async engine, one pool per process
  (``engine.PostgresEngines``); LISTEN has a connection of its own, outside the pool.
- Types, in ``schema.py`` by SQLAlchemy's own means: ids are native ``uuid``; times
  ``timestamptz``, bound as aware datetimes (``UTCDateTime``); ``attempts.id`` is a
  ``BIGINT``; ``ix_deliveries_due`` is a partial index (``postgresql_where``).
- Ids and times as text (listing, routing): ``CAST(id AS TEXT)`` and ``to_char`` in
  UTC, by the database rather than by Python type processors per row; minute buckets
  (dashboard) by ``date_trunc``.
- Claims of deliveries and reports: ``FOR UPDATE SKIP LOCKED``, so concurrent workers
  each take different rows instead of queueing behind one another.
- Creating subscriptions: transaction-scoped advisory locks per (tenant, tracking id,
  url), since two api processes could otherwise both pass the duplicate check.
- Due work: ``NOTIFY waypost_work`` when the transaction commits, and a LISTEN loop
  that wakes the dispatcher; without it, other processes' work waits for its poll.
- Bulk writes: asyncpg takes UUID text and aware datetimes as they are; from
  ``COPY_ROWS`` rows, an insert is a COPY.
- Migrations: an advisory lock, since several processes may start (and migrate) at once.
- Errors: SQLSTATE class 22 (a NUL in text) is bad input, not an outage. That reading
  is in ``core._failure``, with the rest of the error translation; SQLite has no
  SQLSTATE, so it never applies there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from waypost.domain.backoff import Backoff
from waypost.errors import DatabaseUnavailable
from waypost.store.dialect import Dialect, Encoder, Query
from waypost.store.engine import Connection, PostgresEngines
from waypost.store.outage import DRIVER_ERRORS, DatabaseHealth, cause, translate

log = logging.getLogger(__name__)

# The channel on which ingest, retry and replay announce due deliveries to the workers.
WORK_CHANNEL = "waypost_work"

# Any constant works: it only has to be the same in every waypost process.
_MIGRATION_LOCK = 0x57A7_9057

COPY_ROWS = 1000
"""From this many rows, an insert on PostgreSQL is a COPY: 10,000 delivery rows took
150 ms where the pipelined insert took 280 ms, and an INSERT ... SELECT FROM unnest
(arrays) 240 ms."""


class PostgresDialect(Dialect):
    name = "postgresql"

    def id_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.cast(column, sa.Text)

    def utc_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.func.to_char(
            sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS", type_=sa.String
        )

    def minute_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.func.to_char(
            sa.func.date_trunc("minute", sa.func.timezone("UTC", column)), "YYYY-MM-DD HH24:MI"
        )

    async def announce_work(self, connection: Connection) -> None:
        # Delivered when the transaction commits, and only then: no worker wakes for rows
        # it cannot see yet.
        await connection.exec_driver_sql(f"NOTIFY {WORK_CHANNEL}")

    @asynccontextmanager
    async def work_signals(
        self, wakeup: asyncio.Event, *, health: DatabaseHealth, retry_max: float
    ) -> AsyncIterator[None]:
        listening = asyncio.create_task(self._listen(wakeup, health, retry_max))
        try:
            yield
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _listen(
        self, wakeup: asyncio.Event, health: DatabaseHealth, retry_max: float
    ) -> None:
        """LISTEN on a connection of its own, reconnecting when it is lost, for as long as
        the database takes to come back (an outage is logged once, by ``health``); the
        dispatcher polls meanwhile, so an outage here only delays deliveries by the poll
        interval."""
        assert isinstance(self._engines, PostgresEngines)
        backoff = Backoff(retry_max)
        while True:
            started = time.monotonic()
            try:
                connection = await asyncpg.connect(self._engines.dsn)
            except DRIVER_ERRORS as exc:
                if isinstance(translate(exc, "listen"), DatabaseUnavailable):
                    health.failed(started, exc, wrote=False)
                else:
                    # Not an outage (a password changed, say): the pool fails alike,
                    # and its callers report it.
                    log.warning("listen_failed reason=%s", cause(exc))
                await asyncio.sleep(backoff.next())
                continue
            health.answered(started, wrote=False)
            try:
                await self._listen_on(connection, wakeup)
                log.warning("listen_lost; reconnecting")
            except DRIVER_ERRORS as exc:
                log.warning("listen_lost reason=%s; reconnecting", cause(exc))
            finally:
                # A connection lost mid-close has nothing left to release.
                if not connection.is_closed():
                    with contextlib.suppress(*DRIVER_ERRORS):
                        await connection.close(timeout=5)
            # A connection that lasted starts the pauses over; one lost as soon as it was
            # made (a server cutting every new session) is not retried in a tight loop.
            if time.monotonic() - started > retry_max:
                backoff.reset()
            await asyncio.sleep(backoff.next())

    @staticmethod
    async def _listen_on(connection: asyncpg.Connection, wakeup: asyncio.Event) -> None:
        """Set ``wakeup`` on every announcement until ``connection`` is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(WORK_CHANNEL, lambda *_args: wakeup.set())
        # Whatever was announced while nobody listened is claimed now.
        wakeup.set()
        await lost.wait()

    async def lock_subscription_keys(
        self, connection: Connection, tenant_id: str, tracking_keys: Sequence[str], url: str
    ) -> None:
        # Two api processes creating the same subscription at once must not both pass the
        # duplicate check; the locks are held until the transaction ends, and taken in
        # sorted order so two overlapping batches cannot deadlock.
        keys = sorted(f"{tenant_id}|{key}|{url}" for key in tracking_keys)
        await connection.execute(
            sa.text(
                "SELECT count(pg_advisory_xact_lock(hashtext(key))) "
                "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS k(key, n)"
            ),
            {"keys": keys},
        )

    def claimable(self, query: Query) -> Query:
        # SKIP LOCKED: concurrent workers each take different rows instead of queueing.
        return query.with_for_update(skip_locked=True)

    @staticmethod
    def encoder(type_: sa.types.TypeEngine[Any]) -> Encoder:
        # asyncpg takes UUID text and aware datetimes as they are.
        return _as_is

    @staticmethod
    async def bulk_load(
        connection: Connection, into: tuple[str, Sequence[str]], rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        """PostgreSQL's COPY, in the caller's transaction, from ``COPY_ROWS`` rows."""
        if len(rows) < COPY_ROWS:
            return False
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy begins asyncpg's transaction with the first statement it runs; a
            # COPY before that would commit on its own.
            await connection.exec_driver_sql("SELECT 1")
        table, columns = into
        records = [tuple(row[name] for name in columns) for row in rows]
        try:
            await driver.copy_records_to_table(table, records=records, columns=columns)
        except asyncpg.IntegrityConstraintViolationError as exc:
            # As SQLAlchemy reports it for an INSERT: callers handle a key conflict the
            # same way however the rows were sent. Other driver errors are the store's
            # to translate (``StoreCore._write``).
            raise IntegrityError(f"COPY {table}", None, exc) from exc
        return True

    @staticmethod
    def lock_migrations(connection: sa.Connection) -> None:
        # Several api/worker processes may start at once; one migrates, the others wait.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})


def _as_is(value: Any) -> Any:
    return value
