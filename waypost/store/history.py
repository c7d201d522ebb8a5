"""Reading delivery history and putting failed deliveries back in the queue."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from waypost.domain.lifecycle import Trigger, after, sources, target
from waypost.domain.models import Attempt, DeliveryStatus, DeliverySummary
from waypost.domain.times import to_utc
from waypost.errors import Conflict, NotFound, ValidationFailed
from waypost.store import schema as t
from waypost.store.core import StoreCore, valid_id
from waypost.store.deliveries import SUMMARY_COLUMNS, d
from waypost.store.rows import as_attempt, as_summary


@dataclass(frozen=True, kw_only=True)
class DeliveryFilter:
    """What a listing or a replay selects; every field narrows it."""

    status: DeliveryStatus | None = None
    webhook_id: str | None = None
    event_types: tuple[str, ...] = ()
    tracking_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, tenant_id: str) -> list[sa.ColumnElement[bool]]:
        conditions = [d.c.tenant_id == tenant_id]
        if self.status is not None:
            conditions.append(d.c.status == self.status)
        if self.webhook_id is not None:
            if not valid_id(self.webhook_id):
                raise ValidationFailed("webhook_id: not a webhook id")
            conditions.append(d.c.webhook_id == self.webhook_id)
        if self.event_types:
            conditions.append(d.c.event_type.in_(self.event_types))
        if self.tracking_id is not None:
            conditions.append(d.c.tracking_id == self.tracking_id)
        if self.since is not None:
            conditions.append(d.c.created_at >= self.since)
        if self.until is not None:
            conditions.append(d.c.created_at < self.until)
        return conditions


def encode_cursor(created_at: datetime, delivery_id: str) -> str:
    raw = orjson.dumps([created_at.isoformat(), delivery_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, delivery_id = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        return to_utc(datetime.fromisoformat(created)), str(delivery_id)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("cursor: not a cursor this API gave out") from exc


class HistoryQueries(StoreCore):
    async def list_deliveries(
        self, *, tenant_id: str, selection: DeliveryFilter, cursor: str | None, limit: int
    ) -> tuple[list[DeliverySummary], str | None]:
        """Newest first, ``limit`` at a time; the cursor continues after the last one shown."""
        conditions = selection.where(tenant_id)
        if cursor is not None:
            created_at, delivery_id = decode_cursor(cursor)
            conditions.append(
                sa.or_(
                    d.c.created_at < created_at,
                    sa.and_(d.c.created_at == created_at, d.c.id < delivery_id),
                )
            )
        query = (
            sa.select(*SUMMARY_COLUMNS)
            .where(*conditions)
            .order_by(d.c.created_at.desc(), d.c.id.desc())
            .limit(limit + 1)
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        items = [as_summary(row) for row in rows[:limit]]
        more = len(rows) > limit
        return items, encode_cursor(items[-1].created_at, items[-1].id) if more else None

    async def get_delivery(
        self, *, tenant_id: str, delivery_id: str
    ) -> tuple[DeliverySummary, list[Attempt]]:
        if not valid_id(delivery_id):
            raise NotFound(f"delivery {delivery_id} not found")
        async with self._read() as connection:
            row = (
                await connection.execute(
                    sa.select(*SUMMARY_COLUMNS).where(
                        d.c.id == delivery_id, d.c.tenant_id == tenant_id
                    )
                )
            ).first()
            if row is None:
                raise NotFound(f"delivery {delivery_id} not found")
            attempts = await connection.execute(
                sa.select(t.attempts)
                .where(t.attempts.c.delivery_id == delivery_id)
                .order_by(t.attempts.c.number, t.attempts.c.id)
            )
            return as_summary(row), [as_attempt(attempt) for attempt in attempts]

    async def retry_delivery(
        self, *, tenant_id: str, delivery_id: str, now: datetime
    ) -> DeliverySummary:
        """Put one failed (or cancelled) delivery back in the queue, due now."""
        if not valid_id(delivery_id):
            raise NotFound(f"delivery {delivery_id} not found")
        async with self._write() as connection:
            row = (
                await connection.execute(
                    sa.select(d.c.status).where(d.c.id == delivery_id, d.c.tenant_id == tenant_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"delivery {delivery_id} not found")
            requeued = after(DeliveryStatus(row.status), Trigger.MANUAL_RETRY)
            if requeued is None:
                raise Conflict(
                    f"delivery {delivery_id} is {row.status}; "
                    f"only {' or '.join(sources(Trigger.MANUAL_RETRY))} deliveries can be retried"
                )
            await connection.execute(
                d.update().where(d.c.id == delivery_id).values(**_requeued(requeued, now))
            )
            await self._dialect.announce_work(connection)
        found, _attempts = await self.get_delivery(tenant_id=tenant_id, delivery_id=delivery_id)
        return found

    async def count_replayable(
        self, *, tenant_id: str, selection: DeliveryFilter, now: datetime
    ) -> int:
        """How many failed deliveries a replay of ``selection`` begun ``now`` would re-queue."""
        async with self._read() as connection:
            return int(
                (
                    await connection.execute(
                        sa.select(sa.func.count())
                        .select_from(d)
                        .where(*_replayable(tenant_id, selection, now))
                    )
                ).scalar_one()
            )

    async def replay_chunk(
        self, *, tenant_id: str, selection: DeliveryFilter, now: datetime, limit: int = 1000
    ) -> int:
        """Re-queue up to ``limit`` failed deliveries that ``selection`` matches; returns how many.

        Call until it returns 0. Short transactions keep the dispatchers going meanwhile,
        and only deliveries that failed before ``now`` qualify, so one that is re-queued
        and fails again during the replay is not re-queued a second time.
        """
        chosen = (
            sa.select(d.c.id)
            .where(*_replayable(tenant_id, selection, now))
            .limit(limit)
            .scalar_subquery()
        )
        async with self._write() as connection:
            result = await connection.execute(
                d.update().where(d.c.id.in_(chosen)).values(**_requeued(_REPLAYED, now))
            )
            await self._dialect.announce_work(connection)
        return int(result.rowcount)


# A replay takes the deliveries of one status (failed), compared with "=" as the index on
# (tenant_id, status, finished_at) was made for. Should the lifecycle let a replay take a
# second status, this unpacking fails at import and the condition must become an IN.
(_REPLAYABLE,) = sources(Trigger.REPLAY)
_REPLAYED = target(Trigger.REPLAY)


def _replayable(
    tenant_id: str, selection: DeliveryFilter, now: datetime
) -> list[sa.ColumnElement[bool]]:
    return [
        *selection.where(tenant_id),
        d.c.status == _REPLAYABLE,
        d.c.finished_at <= now,
    ]


def _requeued(status: DeliveryStatus, now: datetime) -> dict[str, Any]:
    return {
        "status": status,
        "next_attempt_at": now,
        "finished_at": None,
        "lease_owner": None,
    }
