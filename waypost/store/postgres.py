"""PostgreSQL specifics: advisory locks and ``FOR UPDATE SKIP LOCKED`` claims."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import sqlalchemy as sa

from waypost.domain.backoff import Backoff
from waypost.errors import DatabaseUnavailable
from waypost.store.base import Store
from waypost.store.engine import Connection, PostgresEngines
from waypost.store.outage import DRIVER_ERRORS, cause, translate

log = logging.getLogger(__name__)

# The channel on which ingest, retry and replay announce due deliveries to the workers.
WORK_CHANNEL = "waypost_work"


class PostgresStore(Store):
    def _id_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.cast(column, sa.Text)

    def _utc_text(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        return sa.func.to_char(
            sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS", type_=sa.String
        )

    async def _announce_work(self, connection: Connection) -> None:
        # Delivered when the transaction commits, and only then: no worker wakes for rows
        # it cannot see yet.
        await connection.exec_driver_sql(f"NOTIFY {WORK_CHANNEL}")

    @asynccontextmanager
    async def work_signals(self, wakeup: asyncio.Event) -> AsyncIterator[None]:
        listening = asyncio.create_task(self._listen(wakeup))
        try:
            yield
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _listen(self, wakeup: asyncio.Event) -> None:
        """LISTEN on a connection of its own, reconnecting when it is lost, for as long as
        the database takes to come back (an outage is logged once, by ``health``); the
        dispatcher polls meanwhile, so an outage here only delays deliveries by the poll
        interval."""
        assert isinstance(self._engines, PostgresEngines)
        backoff = Backoff(self.retry_max)
        while True:
            started = time.monotonic()
            try:
                connection = await asyncpg.connect(self._engines.dsn)
            except DRIVER_ERRORS as exc:
                if isinstance(translate(exc, "listen"), DatabaseUnavailable):
                    self.health.failed(started, exc, wrote=False)
                else:
                    # Not an outage (a password changed, say): the pool fails alike,
                    # and its callers report it.
                    log.warning("listen_failed reason=%s", cause(exc))
                await asyncio.sleep(backoff.next())
                continue
            self.health.answered(started, wrote=False)
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
            if time.monotonic() - started > self.retry_max:
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

    async def _lock_subscription_keys(
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

    def _due_ids(self, limit: int, now: datetime) -> sa.ScalarSelect[Any]:
        # SKIP LOCKED: concurrent workers each take different rows instead of queueing.
        return self._due_select(limit, now).with_for_update(skip_locked=True).scalar_subquery()
