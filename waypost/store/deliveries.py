"""Events, their deliveries and every attempt: the queue the dispatcher works from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from waypost.crypto import SecretBox
from waypost.domain.ack import order_key
from waypost.domain.lifecycle import INITIAL
from waypost.domain.models import (
    AttemptRecord,
    ClaimedDelivery,
    DeliveryMapping,
    DeliveryStatus,
    Lease,
    NewEvent,
    StoredEvent,
)
from waypost.domain.values import Candidate
from waypost.errors import ConstraintViolated, NotFound
from waypost.store import schema as t
from waypost.store.bulk import Bulk
from waypost.store.core import StoreCore, active, dumps, valid_id
from waypost.store.engine import Connection, Engines
from waypost.store.rows import (
    as_candidate,
    as_claimed,
    as_delivery_mapping,
    as_stored_event,
    as_summary,
)

d = t.deliveries

_CLAIMED_COLUMNS = (
    d.c.id,
    d.c.tenant_id,
    d.c.event_id,
    d.c.webhook_id,
    d.c.event_type,
    d.c.tracking_id,
    d.c.attempt_count,
    d.c.payload,
    d.c.created_at,
    d.c.traceparent,
)


@dataclass(frozen=True, kw_only=True)
class EventBatch:
    """One tenant's events, stored at ``now``, as ``insert_group`` takes them."""

    tenant_id: str
    events: Sequence[NewEvent]
    now: datetime


@dataclass(frozen=True, kw_only=True)
class StoredBatch:
    """What ``insert_group`` stored of one ``EventBatch``."""

    ids: list[str]
    """The event ids in order; the original id where an idempotency key was seen before."""
    leased: list[ClaimedDelivery]
    """Its deliveries stored leased, to be sent by the lease's owner."""
    unleased: int
    """How many of its deliveries were stored due, for any dispatcher to claim."""


class DeliveryQueries(StoreCore):
    def __init__(self, engines: Engines, box: SecretBox, *, retry_max: float) -> None:
        super().__init__(engines, box, retry_max=retry_max)
        # Built once: constructing the statement per event cost more than running it.
        self._route_candidates = (
            sa.select(
                # As text from the database: sa.Uuid's processing in Python cost more
                # than the query for an event to 10,000 subscriptions.
                self._dialect.id_text(t.webhook_topics.c.webhook_id).label("webhook_id"),
                t.webhook_topics.c.topic,
                t.webhooks.c.tracking_id,
                t.webhooks.c.filters,
                t.webhooks.c.fields,
            )
            .join(t.webhooks, t.webhooks.c.id == t.webhook_topics.c.webhook_id)
            .where(
                t.webhook_topics.c.tenant_id == sa.bindparam("tenant_id"),
                t.webhook_topics.c.topic.in_(sa.bindparam("topics", expanding=True)),
                t.webhook_topics.c.tracking_key.in_(sa.bindparam("keys", expanding=True)),
                active(sa.bindparam("now", type_=t.webhooks.c.created_at.type)),
            )
        )

    async def route_candidates(
        self,
        *,
        tenant_id: str,
        topics: Collection[str],
        tracking_keys: Collection[str],
        now: datetime,
    ) -> list[Candidate]:
        """Active subscriptions of the tenant on any of ``topics`` and ``tracking_keys``.

        One range scan of the (tenant, topic, tracking key) index: the cost follows the
        number of matches, not the number of subscriptions.
        """
        parameters = {"tenant_id": tenant_id, "topics": list(topics), "keys": list(tracking_keys)}
        grouped: dict[str, list[Any]] = defaultdict(list)
        async with self._read() as connection:
            query = self._route_candidates
            for row in await connection.execute(query, {**parameters, "now": now}):
                grouped[row.webhook_id].append(row)
        return [as_candidate(webhook_id, rows) for webhook_id, rows in grouped.items()]

    async def delivery_mappings(
        self, *, tenant_id: str, order_keys: Collection[str]
    ) -> list[DeliveryMapping]:
        """The acknowledged delivery ids of these orders, one per subscription."""
        if not order_keys:
            return []
        m = t.delivery_mappings
        query = (
            m.select()
            .where(m.c.tenant_id == tenant_id, m.c.order_key.in_(list(order_keys)))
            .order_by(m.c.order_key, m.c.updated_at)
        )
        async with self._read() as connection:
            return [as_delivery_mapping(row) for row in await connection.execute(query)]

    async def insert_group(
        self, *, batches: Sequence[EventBatch], lease: Lease | None
    ) -> list[StoredBatch]:
        """Store every batch's events with their deliveries in one transaction, the first
        ``lease.count`` deliveries leased to ``lease.owner`` (``None``: none leased), and
        announce the due ones to other processes.

        Another process may store an idempotency key between the lookup and the insert:
        the unique index refuses the insert, and the group is written once more, when the
        lookup finds the key. Raises ``ConstraintViolated`` if that fails too.
        """
        try:
            return await self._insert_group(batches, lease)
        except ConstraintViolated:
            return await self._insert_group(batches, lease)

    async def _insert_group(
        self, batches: Sequence[EventBatch], lease: Lease | None
    ) -> list[StoredBatch]:
        room = lease.count if lease is not None else 0
        stored = []
        async with self._write() as connection:
            for batch in batches:
                inserted = await insert_events(
                    connection, batch.tenant_id, batch.events, batch.now, lease, room
                )
                room -= len(inserted.leased)
                stored.append(inserted)
            await self._dialect.announce_work(connection)
        return stored

    def _due_select(self, limit: int, now: datetime) -> sa.Select[tuple[str]]:
        """Due pending deliveries, oldest due first, through the partial ``ix_deliveries_due``."""
        return (
            sa.select(d.c.id)
            .where(d.c.status == DeliveryStatus.PENDING, d.c.next_attempt_at <= now)
            .order_by(d.c.next_attempt_at)
            .limit(limit)
        )

    def _due_ids(self, limit: int, now: datetime) -> sa.ScalarSelect[Any]:
        return self._dialect.claimable(self._due_select(limit, now)).scalar_subquery()

    async def claim_due(
        self, *, owner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries to ``owner`` until ``lease_until``.

        A leased delivery is not due again before the lease ends, so no other
        dispatcher sends it meanwhile; if its owner dies, it simply becomes due again.
        """
        statement = (
            d.update()
            .where(d.c.id.in_(self._due_ids(limit, now)))
            .values(next_attempt_at=lease_until, lease_owner=owner)
            .returning(*_CLAIMED_COLUMNS)
        )
        async with self._write() as connection:
            rows = [row._mapping for row in await connection.execute(statement)]
            shared = {row["event_id"] for row in rows if row["payload"] is None}
            data = await _event_data(connection, shared) if shared else {}
        return [as_claimed(row, data) for row in rows]

    async def record_attempts(self, *, owner: str, records: Sequence[AttemptRecord]) -> None:
        """Write a batch of attempts and their deliveries' new state in one transaction.

        Every attempt is kept (the request was sent); a delivery's state only changes
        while ``owner`` still holds its lease.
        """
        if not records:
            return
        attempt_rows = [_attempt_row(record) for record in records]
        updates = [_delivery_update(owner, record) for record in records]
        ended = [record.delivery_id for record in records if record.ends_subscription]
        acked = {record.delivery_id: record for record in records if record.ack is not None}
        async with self._write() as connection:
            await _INSERT_ATTEMPTS.run(connection, attempt_rows)
            await _UPDATE_DELIVERY.run(connection, updates)
            if acked:
                await _remember_mappings(connection, acked)
            if ended:
                webhook_ids = (
                    await connection.execute(
                        sa.select(d.c.webhook_id).where(d.c.id.in_(ended)).distinct()
                    )
                ).scalars()
                await self._end_subscriptions(connection, list(webhook_ids), records[0].started_at)

    async def get_event(self, *, tenant_id: str, event_id: str) -> StoredEvent:
        if not valid_id(event_id):
            raise NotFound(f"event {event_id} not found")
        async with self._read() as connection:
            row = (
                await connection.execute(
                    sa.select(t.events).where(
                        t.events.c.id == event_id, t.events.c.tenant_id == tenant_id
                    )
                )
            ).first()
            if row is None:
                raise NotFound(f"event {event_id} not found")
            deliveries = await connection.execute(
                sa.select(*SUMMARY_COLUMNS)
                .where(d.c.event_id == event_id, d.c.tenant_id == tenant_id)
                .order_by(d.c.created_at, d.c.id)
            )
            return as_stored_event(row, [as_summary(delivery) for delivery in deliveries])

    async def cancel_deliveries(
        self, *, owner: str, delivery_ids: Sequence[str], reason: str, now: datetime
    ) -> None:
        """Cancel leased deliveries whose subscription has ended or expired."""
        if not delivery_ids:
            return
        async with self._write() as connection:
            await connection.execute(
                d.update()
                .where(d.c.id.in_(delivery_ids), d.c.lease_owner == owner)
                .values(
                    status=DeliveryStatus.CANCELLED,
                    finished_at=now,
                    last_error=reason,
                    lease_owner=None,
                )
            )


def payload_column() -> sa.ColumnElement[str]:
    """The body a delivery sends, in a query that joins its event: its own, or else the
    event's data (see ``_delivery_rows``)."""
    return sa.func.coalesce(d.c.payload, t.events.c.data, type_=sa.Text)


SUMMARY_COLUMNS = tuple(
    column for column in d.c if column.name not in {"payload", "tenant_id", "lease_owner"}
)


async def _remember_mappings(connection: Connection, acked: Mapping[str, AttemptRecord]) -> None:
    """Keep each acknowledged delivery_id against its order and subscription."""
    rows = await connection.execute(
        sa.select(d.c.id, d.c.tenant_id, d.c.webhook_id, d.c.tracking_id, t.events.c.data)
        .join(t.events, t.events.c.id == d.c.event_id)
        .where(d.c.id.in_(list(acked)))
    )
    m = t.delivery_mappings
    for row in rows:
        key = order_key(row.tracking_id, orjson.loads(row.data))
        record = acked[row.id]
        if key is None or record.ack is None:
            continue
        where = (m.c.tenant_id == row.tenant_id, m.c.order_key == key)
        await connection.execute(m.delete().where(*where, m.c.webhook_id == row.webhook_id))
        await connection.execute(
            m.insert().values(
                tenant_id=row.tenant_id,
                order_key=key,
                webhook_id=row.webhook_id,
                delivery_id=record.ack.delivery_id,
                delivery_cost=record.ack.delivery_cost,
                green_delivery=record.ack.green_delivery,
                fleet_extras=dumps(record.ack.fleet_extras)
                if record.ack.fleet_extras is not None
                else None,
                source_delivery_id=row.id,
                updated_at=record.started_at,
            )
        )


_INSERT_EVENTS = Bulk.insert(
    t.events, ("id", "tenant_id", "type", "tracking_id", "data", "idempotency_key", "created_at")
)
_INSERT_DELIVERIES = Bulk.insert(
    d,
    (
        "id",
        "tenant_id",
        "event_id",
        "webhook_id",
        "event_type",
        "tracking_id",
        "status",
        "attempt_count",
        "next_attempt_at",
        "payload",
        "created_at",
        "lease_owner",
        "traceparent",
    ),
)


async def insert_events(
    connection: Connection,
    tenant_id: str,
    events: Sequence[NewEvent],
    now: datetime,
    lease: Lease | None = None,
    room: int = 0,
) -> StoredBatch:
    """Insert events and their deliveries in the caller's transaction: the event ids in
    order (the original id where an idempotency key was seen before), and the first
    ``room`` deliveries leased by ``lease``."""
    known = await _known_keys(connection, tenant_id, events)
    ids: list[str] = []
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for event in events:
        key = event.idempotency_key
        if key is not None and key in known:
            ids.append(known[key])
            continue
        if key is not None:
            known[key] = event.id
        ids.append(event.id)
        event_rows.append(_event_row(tenant_id, event, now))
        delivery_rows.extend(_delivery_rows(tenant_id, event, now))
    leased: list[dict[str, Any]] = []
    if lease is not None:
        leased = delivery_rows[:room]
        for row in leased:
            row.update(next_attempt_at=lease.until, lease_owner=lease.owner)
    data = {row["id"]: row["data"] for row in event_rows} if leased else {}
    if event_rows:
        await _INSERT_EVENTS.run(connection, event_rows)
    if delivery_rows:
        await _INSERT_DELIVERIES.run(connection, delivery_rows)
    return StoredBatch(
        ids=ids,
        leased=[as_claimed(row, data) for row in leased],
        unleased=len(delivery_rows) - len(leased),
    )


async def _known_keys(
    connection: Connection, tenant_id: str, events: Sequence[NewEvent]
) -> dict[str, str]:
    keys = [event.idempotency_key for event in events if event.idempotency_key is not None]
    if not keys:
        return {}
    rows = await connection.execute(
        sa.select(t.events.c.idempotency_key, t.events.c.id).where(
            t.events.c.tenant_id == tenant_id, t.events.c.idempotency_key.in_(keys)
        )
    )
    return {row.idempotency_key: row.id for row in rows}


_UPDATE_DELIVERY = Bulk(
    d.update()
    .where(d.c.id == sa.bindparam("b_id"), d.c.lease_owner == sa.bindparam("b_owner"))
    .values(
        status=sa.bindparam("b_status"),
        attempt_count=d.c.attempt_count + 1,
        next_attempt_at=sa.bindparam("b_next"),
        finished_at=sa.bindparam("b_finished"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        ack_delivery_id=sa.bindparam("b_ack_id"),
        ack_error_message=sa.bindparam("b_ack_error"),
        lease_owner=None,
    )
)
_INSERT_ATTEMPTS = Bulk.insert(
    t.attempts,
    (
        "delivery_id",
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "response_headers",
        "response_excerpt",
        "error",
        "request_headers",
    ),
)


def _delivery_update(owner: str, record: AttemptRecord) -> dict[str, Any]:
    pending = record.status == DeliveryStatus.PENDING
    return {
        "b_id": record.delivery_id,
        "b_owner": owner,
        "b_status": record.status.value,
        "b_next": record.next_attempt_at if pending else record.started_at,
        "b_finished": None if pending else record.started_at,
        "b_code": record.status_code,
        "b_error": record.error,
        "b_ack_id": record.ack.delivery_id if record.ack else None,
        "b_ack_error": record.ack_error_message,
    }


def _attempt_row(record: AttemptRecord) -> dict[str, Any]:
    return {
        "delivery_id": record.delivery_id,
        "number": record.number,
        "started_at": record.started_at,
        "duration_ms": record.duration_ms,
        "status_code": record.status_code,
        "response_headers": dumps(record.response_headers),
        "response_excerpt": record.response_excerpt,
        "error": record.error,
        "request_headers": dumps(record.request_headers),
    }


def _event_row(tenant_id: str, event: NewEvent, now: datetime) -> dict[str, Any]:
    return {
        "id": event.id,
        "tenant_id": tenant_id,
        "type": event.type,
        "tracking_id": event.tracking_id,
        "data": event.data,
        "idempotency_key": event.idempotency_key,
        "created_at": now,
    }


def _delivery_rows(tenant_id: str, event: NewEvent, now: datetime) -> list[dict[str, Any]]:
    """The rows of an event's deliveries; one whose body is the event's data as it is
    stores NULL rather than a copy (an event to 10,000 subscriptions wrote 20 MB)."""
    return [
        {
            "id": delivery.id,
            "tenant_id": tenant_id,
            "event_id": event.id,
            "webhook_id": delivery.webhook_id,
            "event_type": event.type,
            "tracking_id": event.tracking_id,
            "status": INITIAL.value,
            "attempt_count": 0,
            "next_attempt_at": now,
            "payload": None if delivery.payload == event.data else delivery.payload,
            "created_at": now,
            "lease_owner": None,
            "traceparent": event.traceparent,
        }
        for delivery in event.deliveries
    ]


async def _event_data(connection: Connection, event_ids: Collection[str]) -> dict[str, str]:
    """The data of these events: the body of their deliveries that store none of their own."""
    e = t.events
    query = sa.select(e.c.id, e.c.data).where(e.c.id.in_(list(event_ids)))
    return {row.id: row.data for row in await connection.execute(query)}
