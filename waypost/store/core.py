"""What every group of queries shares: engines, transactions, ids, JSON."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from waypost.crypto import SecretBox
from waypost.domain.models import SUBSCRIPTION_ENDED, DeliveryStatus
from waypost.errors import StoreError, ValidationFailed, WaypostError
from waypost.store import schema as t
from waypost.store.constraints import violated
from waypost.store.dialect import dialect_for
from waypost.store.engine import Connection, Engines


def valid_id(value: str) -> bool:
    """Whether ``value`` can be an id at all; other strings are simply not found."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _cause(exc: SQLAlchemyError) -> str:
    """The driver's error class name: enough to diagnose, never a parameter value."""
    orig = getattr(exc, "orig", None)
    return type(getattr(orig, "__cause__", None) or orig or exc).__name__


def _failure(exc: SQLAlchemyError, doing: str) -> WaypostError:
    """PostgreSQL's data exceptions (SQLSTATE class 22) are bad input, not an outage: the one
    that gets past request validation is a NUL character, which PostgreSQL's text refuses."""
    sqlstate = str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")
    if sqlstate == "22021":
        return ValidationFailed("a text value contains a NUL character (\\u0000)")
    if sqlstate.startswith("22"):
        return ValidationFailed(f"a value is not accepted by the database: {_cause(exc)}")
    return StoreError(f"database {doing} failed: {_cause(exc)}")


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

    def __init__(self, engines: Engines, box: SecretBox) -> None:
        self._engines = engines
        self._box = box
        # Every difference between SQLite and PostgreSQL is asked of this object.
        self._dialect = dialect_for(engines)

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

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        """One write transaction; driver errors leave as ``StoreError``."""
        try:
            async with self._engines.begin() as connection:
                yield connection
        except IntegrityError as exc:
            raise violated(exc) from exc
        except SQLAlchemyError as exc:
            raise _failure(exc, "write") from exc

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        try:
            async with self._engines.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise _failure(exc, "read") from exc

    def work_signals(self, wakeup: asyncio.Event) -> AbstractAsyncContextManager[None]:
        """While open, ``wakeup`` is set whenever another process announces due work."""
        return self._dialect.work_signals(wakeup)

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
