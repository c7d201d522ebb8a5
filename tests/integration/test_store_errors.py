"""The database's errors leave the store as waypost's, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tests.support.tenants import make_tenant
from waypost.domain.catalog import EventType
from waypost.domain.models import NewEvent
from waypost.errors import Conflict, ConstraintViolated
from waypost.store import Store
from waypost.store import schema as t
from waypost.store.deliveries import EventBatch

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def test_an_integrity_error_leaves_the_store_as_constraint_violated(store: Store) -> None:
    tenant = await make_tenant(store)
    event_id = str(uuid.uuid4())

    def event() -> NewEvent:
        return NewEvent(
            id=event_id,
            type="IN_TRANSIT",
            tracking_id=None,
            data="{}",
            idempotency_key=None,
            deliveries=(),
        )

    await store.insert_group(
        batches=[EventBatch(tenant_id=tenant.tenant_id, events=[event()], now=NOW)], lease=None
    )
    with pytest.raises(ConstraintViolated) as refused:
        await store.insert_group(
            batches=[EventBatch(tenant_id=tenant.tenant_id, events=[event()], now=NOW)], lease=None
        )
    assert isinstance(refused.value, Conflict) and refused.value.status == 409
    assert isinstance(refused.value.__cause__, IntegrityError)
    # The driver's message quotes the clashing key; the reason does not.
    assert event_id not in refused.value.reason
    assert refused.value.reason.startswith("the database refused a write that breaks")


async def test_expected_clashes_are_named_by_the_operation(store: Store) -> None:
    tenant = await make_tenant(store)
    custom = EventType(
        name="parcel_weighed",
        title="Parcel weighed",
        group="parcels",
        description="A parcel was weighed.",
        example={},
        schema={},
        default_fields=(),
    )
    await store.create_event_type(tenant_id=tenant.tenant_id, event_type=custom, now=NOW)
    with pytest.raises(Conflict, match=r"^name: event type 'parcel_weighed' already exists$"):
        await store.create_event_type(tenant_id=tenant.tenant_id, event_type=custom, now=NOW)
    async with store.engines.connect() as connection:
        count = await connection.execute(
            sa.select(sa.func.count()).select_from(t.custom_event_types)
        )
        assert count.scalar_one() == 1
