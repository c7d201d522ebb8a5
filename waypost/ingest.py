"""Accepting events: validate, route, shape, and store with their deliveries at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from waypost.domain.catalog import EVENT_TYPES, suggest_types
from waypost.domain.fanout import IncomingEvent, plan, topics_of
from waypost.errors import ValidationFailed
from waypost.store import Store
from waypost.store.models import NewEvent


@dataclass(frozen=True, kw_only=True)
class EventInput:
    type: str
    data: dict[str, Any]
    tracking_id: str | None = None
    idempotency_key: str | None = None


def check_type(name: str, where: str) -> None:
    if name not in EVENT_TYPES:
        hint = ", ".join(suggest_types(name))
        raise ValidationFailed(
            f"{where}: unknown event type {name!r}"
            + (f"; did you mean {hint}?" if hint else "; see GET /api/v1/event-types")
        )


async def ingest_events(
    store: Store, tenant_id: str, inputs: Sequence[EventInput], now: datetime
) -> list[str]:
    """Store ``inputs`` and their deliveries durably; returns the event ids in order.

    Routing reads the subscriptions once for the whole batch; the events and every
    delivery are then written in one transaction, so a 202 means the fan-out is durable.
    """
    for index, item in enumerate(inputs):
        check_type(item.type, f"events[{index}].type" if len(inputs) > 1 else "type")
    topics = {topic for item in inputs for topic in topics_of(item.type)}
    tracking_keys = {""} | {item.tracking_id for item in inputs if item.tracking_id is not None}
    candidates = await store.route_candidates(
        tenant_id=tenant_id, topics=topics, tracking_keys=tracking_keys, now=now
    )
    events = []
    for item in inputs:
        incoming = IncomingEvent(
            id=str(uuid.uuid4()),
            type=item.type,
            tracking_id=item.tracking_id,
            data=item.data,
            created_at=now,
        )
        events.append(
            NewEvent(
                id=incoming.id,
                type=item.type,
                tracking_id=item.tracking_id,
                data=orjson.dumps(item.data).decode(),
                idempotency_key=item.idempotency_key,
                deliveries=plan(incoming, candidates),
            )
        )
    return await store.ingest(tenant_id=tenant_id, events=events, now=now)
