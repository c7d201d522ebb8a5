"""Tenants' own event types, and the last seen watched fields of their entities."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from waypost.domain.catalog import EventType
from waypost.domain.models import NewEvent
from waypost.errors import Conflict, ConstraintViolated, NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, active, dumps
from waypost.store.deliveries import insert_events
from waypost.store.rows import as_event_type

custom = t.custom_event_types
state = t.entity_fields


class CatalogQueries(StoreCore):
    async def create_event_type(
        self, *, tenant_id: str, event_type: EventType, now: datetime
    ) -> None:
        try:
            async with self._write() as connection:
                await connection.execute(
                    custom.insert().values(
                        tenant_id=tenant_id,
                        name=event_type.name,
                        group_name=event_type.group,
                        title=event_type.title,
                        description=event_type.description,
                        schema=dumps(dict(event_type.schema)),
                        example=dumps(dict(event_type.example)),
                        default_fields=dumps(event_type.default_fields),
                        trigger_on_change=event_type.trigger_on_change,
                        trigger_entity=event_type.trigger_entity,
                        created_at=now,
                    )
                )
        except ConstraintViolated as exc:
            raise Conflict(f"name: event type {event_type.name!r} already exists") from exc

    async def custom_event_types(
        self, *, tenant_id: str, names: Collection[str] | None = None
    ) -> list[EventType]:
        """The tenant's own types, all or those among ``names``, by name."""
        query = custom.select().where(custom.c.tenant_id == tenant_id).order_by(custom.c.name)
        if names is not None:
            query = query.where(custom.c.name.in_(list(names)))
        async with self._read() as connection:
            return [as_event_type(row) for row in await connection.execute(query)]

    async def delete_event_type(self, *, tenant_id: str, name: str, now: datetime) -> None:
        """Delete a tenant's own type; 409 while a subscription needs it."""
        async with self._write() as connection:
            row = (
                await connection.execute(
                    sa.select(custom.c.group_name).where(
                        custom.c.tenant_id == tenant_id, custom.c.name == name
                    )
                )
            ).first()
            if row is None:
                raise NotFound(f"event type {name!r} not found")
            siblings = (
                await connection.execute(
                    sa.select(sa.func.count()).where(
                        custom.c.tenant_id == tenant_id,
                        custom.c.group_name == row.group_name,
                        custom.c.name != name,
                    )
                )
            ).scalar_one()
            # A group stays nameable while it has a type; its last type goes with it.
            topics = [name] if siblings else [name, row.group_name]
            in_use = (
                await connection.execute(
                    sa.select(t.webhook_topics.c.webhook_id)
                    .join(t.webhooks, t.webhooks.c.id == t.webhook_topics.c.webhook_id)
                    .where(
                        t.webhook_topics.c.tenant_id == tenant_id,
                        t.webhook_topics.c.topic.in_(topics),
                        active(now),
                    )
                    .limit(1)
                )
            ).first()
            if in_use is not None:
                raise Conflict(
                    f"event type {name!r} is used by webhook {in_use.webhook_id}; delete or "
                    "change that subscription first"
                )
            await connection.execute(
                custom.delete().where(custom.c.tenant_id == tenant_id, custom.c.name == name)
            )

    async def observe_entity(
        self,
        *,
        tenant_id: str,
        kind: str,
        entity_id: str,
        values: Mapping[str, Any],
        derive: Callable[[Mapping[str, Any]], Sequence[NewEvent]],
        now: datetime,
    ) -> Sequence[NewEvent]:
        """Record an entity's watched ``values`` and store the events they cause, at once.

        ``derive`` gets the previously recorded values and returns the events to store;
        the read, the update and the events share one transaction, so concurrent
        snapshots of one entity cannot both see the same change, and a crash leaves
        either all of it or none.
        """
        try:
            return await self._observe_once(tenant_id, kind, entity_id, values, derive, now)
        except ConstraintViolated:
            # Another snapshot recorded this entity first; read what it wrote.
            return await self._observe_once(tenant_id, kind, entity_id, values, derive, now)

    async def _observe_once(
        self,
        tenant_id: str,
        kind: str,
        entity_id: str,
        values: Mapping[str, Any],
        derive: Callable[[Mapping[str, Any]], Sequence[NewEvent]],
        now: datetime,
    ) -> Sequence[NewEvent]:
        key = (state.c.tenant_id == tenant_id, state.c.kind == kind, state.c.entity_id == entity_id)
        async with self._write() as connection:
            rows = await connection.execute(
                sa.select(state.c.field, state.c.value)
                .where(*key, state.c.field.in_(list(values)))
                .with_for_update()
            )
            seen = {row.field: orjson.loads(row.value) for row in rows}
            events = derive(seen)
            for field, value in values.items():
                if field in seen:
                    await connection.execute(
                        state.update()
                        .where(*key, state.c.field == field)
                        .values(value=dumps(value), updated_at=now)
                    )
                else:
                    await connection.execute(
                        state.insert().values(
                            tenant_id=tenant_id,
                            kind=kind,
                            entity_id=entity_id,
                            field=field,
                            value=dumps(value),
                            updated_at=now,
                        )
                    )
            await insert_events(connection, tenant_id, events, now)
        return events
