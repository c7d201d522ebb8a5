"""What the store's ``insert_group`` answers, computed in memory for the fake queues of
the dispatcher's and the intake's unit tests."""

from __future__ import annotations

from collections.abc import Sequence

from waypost.domain.models import ClaimedDelivery, Lease
from waypost.store.deliveries import EventBatch, StoredBatch


def stored_in_memory(
    batches: Sequence[EventBatch], lease: Lease | None
) -> tuple[list[StoredBatch], list[ClaimedDelivery]]:
    """Each batch as stored, the first ``lease.count`` deliveries leased; and the
    deliveries left unleased (due for any claim)."""
    room = lease.count if lease is not None else 0
    stored = []
    unleased_all: list[ClaimedDelivery] = []
    for batch in batches:
        deliveries = [
            ClaimedDelivery(
                id=new.id,
                tenant_id=batch.tenant_id,
                event_id=event.id,
                webhook_id=new.webhook_id,
                event_type=event.type,
                tracking_id=event.tracking_id,
                attempt_count=0,
                payload=new.payload,
                created_at=batch.now,
            )
            for event in batch.events
            for new in event.deliveries
        ]
        leased, unleased = deliveries[:room], deliveries[room:]
        room -= len(leased)
        unleased_all.extend(unleased)
        stored.append(
            StoredBatch(
                ids=[event.id for event in batch.events], leased=leased, unleased=len(unleased)
            )
        )
    return stored, unleased_all
