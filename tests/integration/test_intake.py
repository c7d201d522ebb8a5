"""The intake on a real database, SQLite and PostgreSQL: group commit and the hand-over
of fresh deliveries to the dispatcher of the same process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from tests.integration.test_store import NOW, new_events, subscribed
from waypost.delivery.intake import Intake
from waypost.domain.models import ClaimedDelivery, Lease, NewEvent
from waypost.domain.values import NewDelivery
from waypost.errors import ConstraintViolated
from waypost.store import Store
from waypost.store.bulk import COPY_ROWS


async def test_a_failed_group_stores_none_of_its_bulk_rows(store: Store) -> None:
    tenant, sub = await subscribed(store)
    [existing] = await Intake(store).ingest(
        tenant_id=tenant.tenant_id, events=new_events(sub.id, 1), now=NOW
    )

    def event(event_id: str, deliveries: int) -> NewEvent:
        return NewEvent(
            id=event_id,
            type="IN_TRANSIT",
            tracking_id=None,
            data="{}",
            idempotency_key=None,
            deliveries=tuple(
                NewDelivery(id=str(uuid.uuid4()), webhook_id=sub.id, payload="{}")
                for _ in range(deliveries)
            ),
        )

    # Enough rows for PostgreSQL's COPY, events first and deliveries after: written in
    # one transaction with a request that fails, then again alone.
    many = [event(str(uuid.uuid4()), 2) for _ in range(COPY_ROWS)]
    intake = Intake(store)
    stored, failed = await asyncio.gather(
        intake.ingest(tenant_id=tenant.tenant_id, events=many, now=NOW),
        intake.ingest(tenant_id=tenant.tenant_id, events=[event(existing, 1)], now=NOW),
        return_exceptions=True,
    )
    assert stored == [item.id for item in many]
    assert isinstance(failed, ConstraintViolated)
    async with store.engines.connect() as connection:
        counts = (
            await connection.exec_driver_sql(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries)"
            )
        ).one()
    assert tuple(counts) == (1 + COPY_ROWS, 1 + 2 * COPY_ROWS)


class RecordingHandover:
    """A dispatcher with room for ``room`` fresh deliveries, recording what it is given."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.handed: list[ClaimedDelivery] = []
        self.released = 0
        self.woken = 0

    def reserve(self, wanted: int, now: datetime) -> Lease | None:
        granted = min(wanted, self.room)
        self.room -= granted
        return Lease(owner="local", until=now + timedelta(seconds=60), count=granted)

    def hand_over(self, deliveries: Sequence[ClaimedDelivery], lease: Lease) -> None:
        self.handed.extend(deliveries)
        self.released += lease.count - len(deliveries)

    def release(self, lease: Lease) -> None:
        self.released += lease.count

    def wake(self) -> None:
        self.woken += 1


async def test_fresh_deliveries_are_stored_leased_to_the_local_dispatcher_while_it_has_room(
    store: Store,
) -> None:
    tenant, sub = await subscribed(store)
    handover = RecordingHandover(room=3)
    intake = Intake(store, handover=handover)
    await intake.ingest(tenant_id=tenant.tenant_id, events=new_events(sub.id, 5), now=NOW)
    assert len(handover.handed) == 3 and handover.released == 0 and handover.woken == 1
    handed = handover.handed[0]
    assert (handed.webhook_id, handed.event_type, handed.attempt_count) == (sub.id, "IN_TRANSIT", 0)
    # The two left over are due for any dispatcher; the three handed over are not,
    # until their lease ends, as if claimed.
    lease = NOW + timedelta(seconds=60)
    rest = await store.claim_due(owner="other", limit=10, now=NOW, lease_until=lease)
    assert len(rest) == 2 and not {d.id for d in rest} & {d.id for d in handover.handed}
    later = NOW + timedelta(seconds=61)
    expired = await store.claim_due(owner="other", limit=10, now=later, lease_until=later)
    assert {d.id for d in expired} == {d.id for d in [*rest, *handover.handed]}

    # A batch that is not stored gives its room back.
    handover.room = 5
    duplicate = [
        NewEvent(
            id=handover.handed[0].event_id,
            type="IN_TRANSIT",
            tracking_id=None,
            data="{}",
            idempotency_key=None,
            deliveries=(NewDelivery(id=str(uuid.uuid4()), webhook_id=sub.id, payload="{}"),),
        )
    ]
    with pytest.raises(ConstraintViolated):
        await intake.ingest(tenant_id=tenant.tenant_id, events=duplicate, now=NOW)
    assert handover.released == 1 and len(handover.handed) == 3
