"""PostgreSQL specifics: advisory locks and ``FOR UPDATE SKIP LOCKED`` claims."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import sqlalchemy as sa

from waypost.store.base import Store
from waypost.store.engine import Connection, PostgresEngines

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
        """LISTEN on a connection of its own, reconnecting when it is lost; the dispatcher
        polls meanwhile, so an outage here only delays deliveries by the poll interval."""
        assert isinstance(self._engines, PostgresEngines)
        delay = 0.5
        while True:
            try:
                connection = await asyncpg.connect(self._engines.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("listen_failed reason=%s retry_in=%.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            try:
                await self._listen_on(connection, wakeup)
                delay = 0.5
                log.warning("listen_lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("listen_failed reason=%s", type(exc).__name__)
            finally:
                if not connection.is_closed():
                    await connection.close(timeout=5)

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
