"""The intake: routed events into the store, group-committed, and on to a dispatcher.

Requests that arrive while a write is under way are written together in the next
transaction (group commit): one commit serves many concurrent requests, where a commit
each would make the database's write lock the limit of single-event ingest. Each
request still returns only once its events are committed.

In ``waypost serve`` the intake hands fresh deliveries to the dispatcher of its own
process (``Handover``): they are stored already leased to it, so it sends them without
claiming them back from the database, a write transaction fewer per batch and no wait
for a wake-up. Were the process to die, the leases end and any dispatcher claims them
as usual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from waypost.domain.models import ClaimedDelivery, Lease, NewEvent
from waypost.errors import DatabaseUnavailable, StoreError
from waypost.store.deliveries import EventBatch, StoredBatch
from waypost.store.interfaces import IngestQueue

log = logging.getLogger(__name__)

# How many events one group-committed ingest transaction takes at most (at least one request).
_GROUP_EVENTS = 2_000


class Handover(Protocol):
    """A dispatcher in the ingesting process, which takes fresh deliveries as they are
    stored (``waypost serve``)."""

    def reserve(self, wanted: int, now: datetime) -> Lease | None:
        """Room for up to ``wanted`` deliveries now; what is granted must be handed over
        or released."""

    def hand_over(self, deliveries: Sequence[ClaimedDelivery], lease: Lease) -> None:
        """Send these committed deliveries, leased by ``lease``; the rest of it is released."""

    def release(self, lease: Lease) -> None:
        """Nothing of ``lease`` was stored."""

    def wake(self) -> None:
        """Deliveries were stored unleased and are due: claim them."""


@dataclass(frozen=True, kw_only=True)
class _IngestRequest(EventBatch):
    ids: asyncio.Future[list[str]]


class Intake:
    """Stores routed events with their deliveries (``ingest``); one per process.

    ``handover``, if given, is this process's dispatcher: fresh deliveries are stored
    leased to it while it has room, and it is woken for the rest.
    """

    def __init__(self, queue: IngestQueue, *, handover: Handover | None = None) -> None:
        self._queue = queue
        self._handover = handover
        self._waiting: list[_IngestRequest] = []
        self._writer: asyncio.Task[None] | None = None

    async def ingest(
        self, *, tenant_id: str, events: Sequence[NewEvent], now: datetime
    ) -> list[str]:
        """Store events with their deliveries in one transaction; returns the event ids in
        order, the original id where an idempotency key was seen before."""
        ids: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_IngestRequest(tenant_id=tenant_id, events=events, now=now, ids=ids))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_waiting())
        return await ids

    async def _write_waiting(self) -> None:
        group: list[_IngestRequest] = []
        try:
            while self._waiting:
                size = count = 0
                for request in self._waiting:
                    if count and size + len(request.events) > _GROUP_EVENTS:
                        break
                    size += len(request.events)
                    count += 1
                group = self._waiting[:count]
                del self._waiting[:count]
                await self._write_group(group)
        except Exception:
            log.exception("ingest_writer_crashed")
        finally:
            self._writer = None
            # Whatever ended the writer (a defect, or the loop cancelling it at exit), no
            # request may wait for an answer that would never come.
            for request in (*group, *self._waiting):
                if not request.ids.done():
                    request.ids.set_exception(StoreError("the ingest was interrupted"))
            self._waiting.clear()

    async def _write_group(self, group: Sequence[_IngestRequest]) -> None:
        lease = self._reserve(group)
        try:
            stored = await self._queue.insert_group(batches=group, lease=lease)
        except Exception as exc:
            if lease is not None and self._handover is not None:
                self._handover.release(lease)
            if isinstance(exc, DatabaseUnavailable):
                # Every request of the group would fail alike, each only after a wait of
                # its own (another process's SQLite lock): all of them are answered now.
                for request in group:
                    if not request.ids.done():
                        request.ids.set_exception(DatabaseUnavailable(exc.reason))
                return
            if len(group) > 1:
                # One request's bad value or key conflict must not fail the others.
                for request in group:
                    await self._write_group([request])
                return
            if not group[0].ids.done():
                group[0].ids.set_exception(exc)
            return
        self._hand_over(stored, lease)
        for request, inserted in zip(group, stored, strict=True):
            if not request.ids.done():
                request.ids.set_result(inserted.ids)

    def _reserve(self, group: Sequence[_IngestRequest]) -> Lease | None:
        if self._handover is None:
            return None
        wanted = sum(len(event.deliveries) for request in group for event in request.events)
        return self._handover.reserve(wanted, group[0].now) if wanted else None

    def _hand_over(self, stored: Sequence[StoredBatch], lease: Lease | None) -> None:
        if self._handover is None:
            return
        if lease is not None:
            leased = [delivery for inserted in stored for delivery in inserted.leased]
            self._handover.hand_over(leased, lease)
        if any(inserted.unleased for inserted in stored):
            self._handover.wake()
