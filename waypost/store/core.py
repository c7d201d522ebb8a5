"""What every group of queries shares: engines, transactions, ids, JSON."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic.util import CommandError
from sqlalchemy.exc import IntegrityError

from waypost.crypto import SecretBox
from waypost.domain.models import SUBSCRIPTION_ENDED, DeliveryStatus
from waypost.errors import DatabaseUnavailable, StoreError, WaypostError
from waypost.store import schema as t
from waypost.store.constraints import violated
from waypost.store.dialect import dialect_for
from waypost.store.engine import Connection, Engines
from waypost.store.migrate import migrate
from waypost.store.outage import DRIVER_ERRORS, DatabaseHealth, translate


def valid_id(value: str) -> bool:
    """Whether ``value`` can be an id at all; other strings are simply not found."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def active(now: datetime | sa.BindParameter[datetime]) -> sa.ColumnElement[bool]:
    """A subscription that has neither ended nor expired."""
    return sa.and_(
        t.webhooks.c.ended_at.is_(None),
        sa.or_(t.webhooks.c.expires_at.is_(None), t.webhooks.c.expires_at > now),
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class StoreCore:
    """Connections and transactions; the query groups build on it."""

    def __init__(self, engines: Engines, box: SecretBox, *, retry_max: float) -> None:
        self._engines = engines
        self._box = box
        # Every difference between SQLite and PostgreSQL is asked of this object.
        self._dialect = dialect_for(engines)
        self.health = DatabaseHealth()
        self.retry_max = retry_max
        """The longest pause between tries of a loop of the store's own (LISTEN)."""

    @property
    def dialect(self) -> str:
        """The database: ``sqlite`` or ``postgresql``."""
        return self._dialect.name

    @property
    def engines(self) -> Engines:
        return self._engines

    def derived_key(self, purpose: str) -> bytes:
        """A signing key for ``purpose``, derived from ``WAYPOST_SECRET_KEY``."""
        return self._box.derive(purpose)

    async def close(self) -> None:
        await self._engines.dispose()

    async def migrate(self) -> None:
        """Bring the database to the newest schema; safe to run concurrently and repeatedly."""
        started = time.monotonic()
        try:
            await migrate(self._engines)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "migration", started, wrote=True) from exc
        except CommandError as exc:
            # Alembic's own: a database migrated by a newer waypost, say.
            self.health.answered(started, wrote=True)
            raise StoreError(f"database migration failed: {exc}") from exc
        self.health.answered(started, wrote=True)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        """One write transaction; driver errors leave as waypost's (``outage.translate``),
        but for ``IntegrityError``, which callers turn into their own answers."""
        started = time.monotonic()
        try:
            async with self._engines.begin() as connection:
                yield connection
        except IntegrityError as exc:
            self.health.answered(started, wrote=True)
            raise violated(exc) from exc
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "write", started, wrote=True) from exc
        self.health.answered(started, wrote=True)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        started = time.monotonic()
        try:
            async with self._engines.connect() as connection:
                yield connection
        except DRIVER_ERRORS as exc:
            raise self._failed(exc, "read", started, wrote=False) from exc
        self.health.answered(started, wrote=False)

    def _failed(self, exc: Exception, doing: str, started: float, *, wrote: bool) -> WaypostError:
        """``exc`` as waypost's error, noted in ``health``: an outage is logged once."""
        error = translate(exc, doing)
        if isinstance(error, DatabaseUnavailable):
            self.health.failed(started, exc, wrote=wrote)
        else:
            self.health.answered(started, wrote=wrote)
        return error

    def work_signals(self, wakeup: asyncio.Event) -> AbstractAsyncContextManager[None]:
        """While open, ``wakeup`` is set whenever another process announces due work."""
        return self._dialect.work_signals(wakeup, health=self.health, retry_max=self.retry_max)

    async def _end_subscriptions(
        self, connection: Connection, subscription_ids: Sequence[str], now: datetime
    ) -> None:
        await connection.execute(
            t.webhooks.update()
            .where(t.webhooks.c.id.in_(subscription_ids), t.webhooks.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        await connection.execute(
            t.webhook_topics.delete().where(t.webhook_topics.c.webhook_id.in_(subscription_ids))
        )
        # Waiting deliveries get nothing further; one in flight is settled by its sender,
        # and a retry it schedules is cancelled by the dispatcher that next claims it.
        await connection.execute(
            t.deliveries.update()
            .where(
                t.deliveries.c.webhook_id.in_(subscription_ids),
                t.deliveries.c.status == DeliveryStatus.PENDING,
                t.deliveries.c.lease_owner.is_(None),
            )
            .values(status=DeliveryStatus.CANCELLED, finished_at=now, last_error=SUBSCRIPTION_ENDED)
        )
