"""Queries for the operator's view: the size and age of the queue, and whether the
schema is current. Both read the partial index ``ix_deliveries_due`` or one row, never
the deliveries table's history: their cost follows the queue, not the table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from waypost.domain.models import DeliveryStatus
from waypost.store import schema as t
from waypost.store.core import StoreCore
from waypost.store.migrate import alembic_config

d = t.deliveries
_pending = d.c.status == DeliveryStatus.PENDING
# Both aggregates run on the partial index of pending rows (its predicate is
# ``status = 'pending'``); leased deliveries are pending with ``next_attempt_at`` at
# their lease's end, so they are not due.
_QUEUE = sa.select(
    sa.func.count().label("pending"),
    sa.func.count()
    .filter(d.c.next_attempt_at <= sa.bindparam("now", type_=t.UTCDateTime))
    .label("due"),
).where(_pending)
_OLDEST_DUE = sa.select(sa.func.min(d.c.next_attempt_at)).where(_pending)
_VERSION = sa.text("SELECT version_num FROM alembic_version")


@dataclass(frozen=True, kw_only=True)
class QueueStats:
    pending: int
    due: int
    oldest_due_at: datetime | None


@cache
def head_revision() -> str:
    """The newest migration this waypost knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class QueueStatsQueries(StoreCore):
    async def queue_stats(self, *, now: datetime) -> QueueStats:
        """Pending and due deliveries, and when the longest-waiting due one fell due."""
        async with self._read() as connection:
            counts = (await connection.execute(_QUEUE, {"now": now})).one()._mapping
            oldest = (await connection.execute(_OLDEST_DUE)).scalar_one()
        return QueueStats(
            pending=counts["pending"],
            due=counts["due"],
            oldest_due_at=oldest if oldest and oldest <= now else None,
        )

    async def schema_current(self) -> bool:
        """Whether the database answers and its migrations are this waypost's newest."""
        async with self._read() as connection:
            version = (await connection.execute(_VERSION)).scalar_one_or_none()
        return version == head_revision()
