"""What the dashboard reads beyond the API's queries: health and activity over a window.

Every figure counts deliveries that finished (``delivered`` or ``failed``) at or
after ``since``, by their ``finished_at``, through the (tenant, status,
finished_at) index, so the cost follows the window, not the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from waypost.domain.models import DeliveryStatus
from waypost.errors import NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, valid_id
from waypost.store.deliveries import payload_column

d = t.deliveries
_FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


@dataclass(frozen=True, kw_only=True)
class EndpointHealth:
    """One subscription's finished deliveries in the window and its latest failure."""

    delivered: int = 0
    failed: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MinuteCount:
    minute: datetime
    delivered: int
    failed: int


@dataclass(frozen=True, kw_only=True)
class FailureCount:
    label: str
    """The endpoint's URL, or the last status code (``None``: no HTTP answer)."""
    count: int


class DashboardQueries(StoreCore):
    def _finished_since(self, tenant_id: str, since: datetime) -> list[sa.ColumnElement[bool]]:
        return [d.c.tenant_id == tenant_id, d.c.status.in_(_FINISHED), d.c.finished_at >= since]

    async def endpoint_health(
        self, *, tenant_id: str, since: datetime
    ) -> dict[str, EndpointHealth]:
        """Per subscription id: delivered and failed counts, and the latest failure's error."""
        counts = (
            sa.select(d.c.webhook_id, d.c.status, sa.func.count().label("n"))
            .where(*self._finished_since(tenant_id, since))
            .group_by(d.c.webhook_id, d.c.status)
        )
        latest = (
            sa.select(d.c.webhook_id, sa.func.max(d.c.finished_at).label("at"))
            .where(*self._finished_since(tenant_id, since), d.c.status == DeliveryStatus.FAILED)
            .group_by(d.c.webhook_id)
            .subquery()
        )
        errors = sa.select(d.c.webhook_id, d.c.last_error, d.c.finished_at).join(
            latest,
            sa.and_(
                d.c.webhook_id == latest.c.webhook_id,
                d.c.finished_at == latest.c.at,
                d.c.status == DeliveryStatus.FAILED,
            ),
        )
        async with self._read() as connection:
            count_rows = (await connection.execute(counts)).all()
            error_rows = (await connection.execute(errors)).all()
        tallies: dict[str, dict[str, int]] = {}
        for row in count_rows:
            tallies.setdefault(str(row.webhook_id), {})[row.status] = int(row.n)
        last = {str(row.webhook_id): row for row in error_rows}
        return {
            webhook_id: EndpointHealth(
                delivered=tally.get(DeliveryStatus.DELIVERED, 0),
                failed=tally.get(DeliveryStatus.FAILED, 0),
                last_error=last[webhook_id].last_error if webhook_id in last else None,
                last_error_at=last[webhook_id].finished_at if webhook_id in last else None,
            )
            for webhook_id, tally in tallies.items()
        }

    async def deliveries_per_minute(self, *, tenant_id: str, since: datetime) -> list[MinuteCount]:
        """Finished deliveries per minute, oldest first; minutes without any are left out."""
        minute = self._dialect.minute_text(d.c.finished_at).label("minute")
        query = (
            sa.select(minute, d.c.status, sa.func.count().label("n"))
            .where(*self._finished_since(tenant_id, since))
            .group_by(minute, d.c.status)
            .order_by(minute)
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        per_minute: dict[str, dict[str, int]] = {}
        for row in rows:
            per_minute.setdefault(row.minute, {})[row.status] = int(row.n)
        return [
            MinuteCount(
                minute=datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC),
                delivered=tally.get(DeliveryStatus.DELIVERED, 0),
                failed=tally.get(DeliveryStatus.FAILED, 0),
            )
            for text, tally in per_minute.items()
        ]

    async def failures_by_endpoint(
        self, *, tenant_id: str, since: datetime, limit: int = 10
    ) -> list[FailureCount]:
        """The endpoints (URLs) with the most failed deliveries, most first."""
        count = sa.func.count().label("n")
        query = (
            sa.select(t.webhooks.c.url, count)
            .select_from(d.join(t.webhooks, d.c.webhook_id == t.webhooks.c.id))
            .where(*self._finished_since(tenant_id, since), d.c.status == DeliveryStatus.FAILED)
            .group_by(t.webhooks.c.url)
            .order_by(count.desc(), t.webhooks.c.url)
            .limit(limit)
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return [FailureCount(label=row.url, count=int(row.n)) for row in rows]

    async def failures_by_status(
        self, *, tenant_id: str, since: datetime
    ) -> list[tuple[int | None, int]]:
        """(last status code, failed deliveries), most first; ``None``: no HTTP answer."""
        count = sa.func.count().label("n")
        query = (
            sa.select(d.c.last_status_code, count)
            .where(*self._finished_since(tenant_id, since), d.c.status == DeliveryStatus.FAILED)
            .group_by(d.c.last_status_code)
            .order_by(count.desc())
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return [(row.last_status_code, int(row.n)) for row in rows]

    async def delivery_payload(self, *, tenant_id: str, delivery_id: str) -> str:
        """The exact body a delivery sends (the same on every attempt)."""
        row = None
        if valid_id(delivery_id):
            async with self._read() as connection:
                row = (
                    await connection.execute(
                        sa.select(payload_column().label("payload"))
                        .join(t.events, t.events.c.id == d.c.event_id)
                        .where(d.c.id == delivery_id, d.c.tenant_id == tenant_id)
                    )
                ).first()
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return str(row.payload)
