"""Events derived from entity snapshots: Bringg's "fires only when a field changes" rule.

``task_assigned_to_dp`` is "only triggered if carrier was changed. If the
fleet_id value comes with the original order creation request, the webhook is
not triggered." So the first snapshot of an entity only records its watched
fields; a later snapshot whose watched field holds a new, non-null value emits
the event type that watches it. Any event type, built-in or a tenant's own,
can declare such a trigger: a field of one kind of entity (``fleet_id`` of an
``order`` for ``task_assigned_to_dp``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from waypost.domain.catalog import EventType

UNSEEN: Any = object()
"""The previous value of a field never recorded for the entity."""


@dataclass(frozen=True, kw_only=True)
class Change:
    field: str
    before: Any
    after: Any


def entity_kinds(types: Iterable[EventType]) -> set[str]:
    """The kinds of entity some event type watches."""
    return {t.trigger_entity for t in types if t.trigger_entity and t.trigger_on_change}


def watched_fields(kind: str, types: Iterable[EventType]) -> dict[str, list[EventType]]:
    """Field name → the event types that fire when that field of a ``kind`` entity changes."""
    watched: dict[str, list[EventType]] = {}
    for event_type in types:
        if event_type.trigger_entity == kind and event_type.trigger_on_change is not None:
            watched.setdefault(event_type.trigger_on_change, []).append(event_type)
    return watched


def changes(
    snapshot: Mapping[str, Any], fields: Iterable[str], seen: Mapping[str, Any]
) -> list[Change]:
    """The watched fields whose value in ``snapshot`` differs from the recorded one.

    A field missing from the snapshot is not a change: producers may post partial
    snapshots.
    """
    found = []
    for field in fields:
        if field not in snapshot:
            continue
        before = seen.get(field, UNSEEN)
        if before is UNSEEN or before != snapshot[field]:
            found.append(Change(field=field, before=before, after=snapshot[field]))
    return found


def fires(change: Change) -> bool:
    """Whether a change emits its event: a new, non-null value of a field seen before."""
    return change.before is not UNSEEN and change.after is not None
