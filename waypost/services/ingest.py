"""Accepting events: validate, route, shape, and store with their deliveries at once."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from waypost.delivery.intake import Intake
from waypost.domain import entities
from waypost.domain.ack import FOLLOW_UP_TYPES, order_key
from waypost.domain.catalog import EVENT_TYPES, EventType, suggest_types
from waypost.domain.fanout import IncomingEvent, plan
from waypost.domain.ids import new_id
from waypost.domain.models import NewEvent
from waypost.domain.values import Candidate
from waypost.errors import ValidationFailed
from waypost.observability.metrics import Metrics
from waypost.observability.tracing import Tracing
from waypost.store.interfaces import CustomEventTypes, Routing


@dataclass(frozen=True, kw_only=True)
class EventInput:
    type: str
    data: dict[str, Any]
    tracking_id: str | None = None
    idempotency_key: str | None = None


async def resolve_types(
    store: CustomEventTypes, tenant_id: str, names: Collection[str]
) -> dict[str, EventType]:
    """The built-in or tenant-defined types among ``names``; unknown names are absent.

    The tenant's own types are only looked up for names the built-in catalog lacks,
    so the common case costs no query.
    """
    found = {name: EVENT_TYPES[name] for name in names if name in EVENT_TYPES}
    missing = [name for name in names if name not in found]
    if missing:
        custom = await store.custom_event_types(tenant_id=tenant_id, names=missing)
        found.update({event_type.name: event_type for event_type in custom})
    return found


def unknown_type(name: str, where: str) -> ValidationFailed:
    hint = ", ".join(suggest_types(name))
    return ValidationFailed(
        f"{where}: unknown event type {name!r}"
        + (f"; did you mean {hint}?" if hint else "; see GET /api/v1/event-types")
    )


async def _candidates(
    store: Routing,
    tenant_id: str,
    types: Collection[EventType],
    tracking_ids: Collection[str],
    now: datetime,
) -> list[Candidate]:
    topics = {event_type.name for event_type in types} | {t.group for t in types}
    return await store.route_candidates(
        tenant_id=tenant_id, topics=topics, tracking_keys={"", *tracking_ids}, now=now
    )


def _new_event(
    item: EventInput,
    event_type: EventType,
    candidates: Sequence[Candidate],
    now: datetime,
    additions: Mapping[str, Mapping[str, Any]] | None = None,
) -> NewEvent:
    incoming = IncomingEvent(
        id=new_id(),
        type=item.type,
        group=event_type.group,
        tracking_id=item.tracking_id,
        data=item.data,
        data_json=orjson.dumps(item.data).decode(),
        created_at=now,
    )
    return NewEvent(
        id=incoming.id,
        type=item.type,
        tracking_id=item.tracking_id,
        data=incoming.data_json,
        idempotency_key=item.idempotency_key,
        deliveries=plan(incoming, candidates, additions),
    )


async def route(
    store: Routing, tenant_id: str, inputs: Sequence[EventInput], now: datetime
) -> list[NewEvent]:
    """Everything ingest does before writing: check the types, read the candidate
    subscriptions once for the whole batch, and plan each one's delivery and body."""
    types = await resolve_types(store, tenant_id, {item.type for item in inputs})
    for index, item in enumerate(inputs):
        if item.type not in types:
            raise unknown_type(item.type, f"events[{index}].type" if len(inputs) > 1 else "type")
    tracking_ids = {item.tracking_id for item in inputs if item.tracking_id is not None}
    candidates = await _candidates(store, tenant_id, types.values(), tracking_ids, now)
    acknowledged = await _acknowledged(store, tenant_id, inputs)
    return [
        _new_event(
            item, types[item.type], candidates, now, acknowledged.get(_follow_up(item) or "")
        )
        for item in inputs
    ]


def _follow_up(item: EventInput) -> str | None:
    """The order a follow-up event is about; ``None`` for other events."""
    return order_key(item.tracking_id, item.data) if item.type in FOLLOW_UP_TYPES else None


async def _acknowledged(
    store: Routing, tenant_id: str, inputs: Sequence[EventInput]
) -> dict[str, dict[str, dict[str, Any]]]:
    """For follow-up events (``delivery_updated``, ...): order → subscription → the
    ``delivery_id`` its receiver acknowledged, to set in that subscription's body."""
    keys = {key for item in inputs if (key := _follow_up(item)) is not None}
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for mapping in await store.delivery_mappings(tenant_id=tenant_id, order_keys=keys):
        found.setdefault(mapping.tracking_id, {})[mapping.webhook_id] = {
            "delivery_id": mapping.delivery_id
        }
    return found


async def ingest_events(
    store: Routing,
    intake: Intake,
    tenant_id: str,
    inputs: Sequence[EventInput],
    now: datetime,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
) -> list[str]:
    """Route ``inputs``, then store them and their deliveries durably through ``intake``;
    returns the event ids in order.

    The events and every delivery are written in one transaction, so a 202 means the
    fan-out is durable. With ``tracing`` on, each delivery keeps the current (ingest)
    span's ``traceparent``, and routing and the write are spans of their own.
    """
    if tracing is None or not tracing.enabled:
        events = await route(store, tenant_id, inputs, now)
        ids = await intake.ingest(tenant_id=tenant_id, events=events, now=now)
    else:
        ids, events = await _traced_ingest(store, intake, tenant_id, inputs, now, tracing)
    if metrics is not None:
        # An idempotent repeat answers with the first event's id and stores nothing.
        stored = [event for event, id_ in zip(events, ids, strict=True) if event.id == id_]
        metrics.ingested(len(stored), sum(len(event.deliveries) for event in stored))
    return ids


async def _traced_ingest(
    store: Routing,
    intake: Intake,
    tenant_id: str,
    inputs: Sequence[EventInput],
    now: datetime,
    tracing: Tracing,
) -> tuple[list[str], list[NewEvent]]:
    traceparent = tracing.current_traceparent()
    with tracing.child("route", **{"waypost.events": len(inputs)}):
        events = [
            replace(event, traceparent=traceparent)
            for event in await route(store, tenant_id, inputs, now)
        ]
    deliveries = sum(len(event.deliveries) for event in events)
    with tracing.child("write", **{"waypost.deliveries": deliveries}):
        # The wait for the group commit that stores these with other requests' events.
        ids = await intake.ingest(tenant_id=tenant_id, events=events, now=now)
    return ids, events


async def derive_entity_events(
    store: Routing,
    tenant_id: str,
    kind: str,
    entity_id: str,
    snapshot: dict[str, Any],
    now: datetime,
) -> list[tuple[str, str]]:
    """Record an entity snapshot and store the events its changes fire: ``(id, type)`` pairs."""
    types = [*EVENT_TYPES.values(), *await store.custom_event_types(tenant_id=tenant_id)]
    kinds = entities.entity_kinds(types)
    if kind not in kinds:
        raise ValidationFailed(
            f"kind: no event type watches {kind!r} entities (watched: {', '.join(sorted(kinds))})"
        )
    watched = entities.watched_fields(kind, types)
    values = {field: snapshot[field] for field in watched if field in snapshot}
    if not values:
        return []
    firing = [event_type for group in watched.values() for event_type in group]
    candidates = await _candidates(store, tenant_id, firing, {entity_id}, now)

    def derive(seen: Mapping[str, Any]) -> list[NewEvent]:
        return [
            _new_event(
                EventInput(type=event_type.name, data=snapshot, tracking_id=entity_id),
                event_type,
                candidates,
                now,
            )
            for change in entities.changes(snapshot, watched, seen)
            if entities.fires(change)
            for event_type in watched[change.field]
        ]

    stored = await store.observe_entity(
        tenant_id=tenant_id,
        kind=kind,
        entity_id=entity_id,
        values=values,
        derive=derive,
        now=now,
    )
    return [(event.id, event.type) for event in stored]
