"""What each consumer asks of the store: one narrow ``Protocol`` per consumer.

The one ``Store`` satisfies them all (checked by mypy at the bottom of this module), but
nothing outside ``store/`` needs to depend on more than it uses: the intake writes
groups of events, the dispatcher works a delivery queue, the report worker a report
queue, and each API resource its own repository. A test gives a consumer a fake of its
protocol instead of a database. They live here, in the store's package, for the same
reason procrastinate keeps its connector interface in a module of its own: the store is
what implements them, and a consumer imports the interface, never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from waypost.store.deliveries import EventBatch, StoredBatch
from waypost.store.models import (
    Lease,
)

# The delivery path: intake, dispatcher, report worker.


class IngestQueue(Protocol):
    """Where the intake (``delivery/intake.py``) writes routed events."""

    async def insert_group(
        self, *, batches: Sequence[EventBatch], lease: Lease | None
    ) -> list[StoredBatch]:
        """Every batch's events and deliveries in one transaction, the first
        ``lease.count`` deliveries leased to ``lease.owner``."""
        ...


if TYPE_CHECKING:
    from waypost.store.base import Store

    def _the_store_satisfies_every_interface(
        store: Store,
    ) -> tuple[IngestQueue]:
        """Never called: mypy checks the return value's type, which fails the build the
        day the store and an interface drift apart."""
        return (store,)
