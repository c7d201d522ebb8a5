"""Deliveries sent again by hand: retry one, replay every failed one a filter matches."""

from __future__ import annotations

import asyncio
from datetime import datetime

from waypost.domain.models import DeliverySummary
from waypost.store.history import DeliveryFilter
from waypost.store.interfaces import DeliveryHistory


async def retry(
    store: DeliveryHistory, wake: asyncio.Event, tenant_id: str, delivery_id: str, *, now: datetime
) -> DeliverySummary:
    """Put one failed or cancelled delivery back in the queue and wake the dispatcher
    (``wake``: the process's ``work_available``)."""
    delivery = await store.retry_delivery(tenant_id=tenant_id, delivery_id=delivery_id, now=now)
    wake.set()
    return delivery


async def replay(
    store: DeliveryHistory,
    wake: asyncio.Event,
    tenant_id: str,
    selection: DeliveryFilter,
    *,
    now: datetime,
) -> int:
    """Re-queue every failed delivery ``selection`` matches, a chunk at a time; how many."""
    total = 0
    while chunk := await store.replay_chunk(tenant_id=tenant_id, selection=selection, now=now):
        total += chunk
        wake.set()
    return total
