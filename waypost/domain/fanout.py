"""Fan-out planning: which candidate subscriptions get an event, and the body each gets.

Pure: the store supplies the candidates (found through the routing index),
this module applies each one's filters and field selection. Compiled filters
and selections are cached by their stored text, so each is compiled once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from waypost.domain import eventcast
from waypost.domain.ids import new_id
from waypost.domain.payload import Selection, compile_selection
from waypost.domain.routing import CompiledFilter, compile_filters, parse_filters
from waypost.domain.values import Candidate, NewDelivery


@dataclass(frozen=True, kw_only=True)
class IncomingEvent:
    id: str
    type: str
    group: str
    tracking_id: str | None
    data: Mapping[str, Any]
    data_json: str
    """``data`` as JSON, made once: the body of every subscription that takes it unchanged."""
    created_at: datetime


@lru_cache(maxsize=65_536)
def _compiled_filter(filters_text: str) -> CompiledFilter:
    return compile_filters(parse_filters(orjson.loads(filters_text)))


@lru_cache(maxsize=65_536)
def _compiled_selection(fields: tuple[str, ...]) -> Selection:
    return compile_selection(fields)


def _receives(candidate: Candidate, event: IncomingEvent, topics: tuple[str, str]) -> bool:
    if candidate.tracking_id is not None and candidate.tracking_id != event.tracking_id:
        return False
    if candidate.topics.isdisjoint(topics):
        return False
    if candidate.filters_text is None:
        return True
    return _compiled_filter(candidate.filters_text).matches(event.data)


def _eventcast_body(event: IncomingEvent, group: str) -> str:
    """Bring's callback without ``pushed``: that is the send time, added by the dispatcher."""
    shipment, package = eventcast.shipment_and_package(event.tracking_id or "", event.data)
    body = eventcast.callback_body(
        group=group,
        event_id=event.id,
        shipment=shipment,
        package=package,
        created=event.created_at,
        pushed=event.created_at,
    )
    del body["pushed"]
    return orjson.dumps(body).decode()


def plan(
    event: IncomingEvent,
    candidates: Sequence[Candidate],
    additions: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[NewDelivery, ...]:
    """One delivery per candidate that receives ``event``, each with its own body.

    ``additions`` maps a subscription id to fields set on top of its body, after field
    selection: the ``delivery_id`` its receiver acknowledged for this order.
    """
    # A subscription receives an event if it names the event's type or the type's group.
    topics = (event.type, event.group)
    deliveries = []
    for candidate in candidates:
        if not _receives(candidate, event, topics):
            continue
        if candidate.tracking_id is not None:
            payload = _eventcast_body(event, topics[1])
        elif candidate.fields is not None:
            payload = orjson.dumps(_compiled_selection(candidate.fields).apply(event.data)).decode()
        else:
            payload = event.data_json
        if additions and candidate.id in additions and candidate.tracking_id is None:
            payload = orjson.dumps({**orjson.loads(payload), **additions[candidate.id]}).decode()
        deliveries.append(NewDelivery(id=new_id(), webhook_id=candidate.id, payload=payload))
    return tuple(deliveries)
