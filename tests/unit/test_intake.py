"""The intake's group commit and hand-over with a fake queue: no database.

(``tests/integration/test_intake.py`` runs it on SQLite and PostgreSQL.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fake_groups import stored_in_memory
from waypost.delivery.intake import Intake
from waypost.domain.models import ClaimedDelivery, Lease, NewEvent
from waypost.domain.values import NewDelivery
from waypost.errors import DatabaseUnavailable, StoreError, ValidationFailed
from waypost.store.deliveries import EventBatch, StoredBatch

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def events(count: int, deliveries: int = 1) -> list[NewEvent]:
    return [
        NewEvent(
            id=str(uuid.uuid4()),
            type="task_created",
            tracking_id=None,
            data="{}",
            idempotency_key=None,
            deliveries=tuple(
                NewDelivery(id=str(uuid.uuid4()), webhook_id="w", payload="{}")
                for _ in range(deliveries)
            ),
        )
        for _ in range(count)
    ]


@dataclass
class FakeQueue:
    """Stores nothing; fails a group holding a batch of a tenant in ``failing``."""

    groups: list[tuple[list[str], Lease | None]] = field(default_factory=list)
    """Every write: the tenants of its batches, and its lease."""
    failing: dict[str, Exception] = field(default_factory=dict)
    gate: asyncio.Event | None = None
    writing: asyncio.Event = field(default_factory=asyncio.Event)

    async def insert_group(
        self, *, batches: Sequence[EventBatch], lease: Lease | None
    ) -> list[StoredBatch]:
        self.groups.append(([batch.tenant_id for batch in batches], lease))
        self.writing.set()
        if self.gate is not None:
            await self.gate.wait()
        for batch in batches:
            if batch.tenant_id in self.failing:
                raise self.failing[batch.tenant_id]
        stored, _unleased = stored_in_memory(batches, lease)
        return stored

    @property
    def sizes(self) -> list[int]:
        return [len(tenants) for tenants, _ in self.groups]


@dataclass
class RecordingHandover:
    """A dispatcher with ``room`` places, recording what it grants and gets back."""

    room: int
    granted: int = 0
    handed: list[ClaimedDelivery] = field(default_factory=list)
    returned: int = 0
    woken: int = 0
    broken: bool = False

    def reserve(self, wanted: int, now: datetime) -> Lease | None:
        if self.broken:
            raise RuntimeError("a defect")
        granted = min(wanted, self.room)
        if not granted:
            return None
        self.room -= granted
        self.granted += granted
        return Lease(owner="local", until=now + timedelta(seconds=60), count=granted)

    def hand_over(self, deliveries: Sequence[ClaimedDelivery], lease: Lease) -> None:
        self.handed.extend(deliveries)
        self.returned += lease.count - len(deliveries)

    def release(self, lease: Lease) -> None:
        self.returned += lease.count

    def wake(self) -> None:
        self.woken += 1

    @property
    def balanced(self) -> bool:
        """Every place granted was handed over or given back, once."""
        return self.granted == len(self.handed) + self.returned


async def test_requests_arriving_during_a_write_are_written_together() -> None:
    queue = FakeQueue(gate=asyncio.Event())
    intake = Intake(queue)
    first = asyncio.create_task(intake.ingest(tenant_id="a", events=events(1), now=NOW))
    await queue.writing.wait()
    later = [
        asyncio.create_task(intake.ingest(tenant_id=name, events=events(2), now=NOW))
        for name in "bcd"
    ]
    await asyncio.sleep(0)
    assert queue.gate is not None
    queue.gate.set()
    answers = await asyncio.gather(first, *later)
    assert [len(ids) for ids in answers] == [1, 2, 2, 2]
    assert [tenants for tenants, _ in queue.groups] == [["a"], ["b", "c", "d"]]


async def test_a_group_holds_at_most_2000_events_and_at_least_one_request() -> None:
    queue = FakeQueue(gate=asyncio.Event())
    intake = Intake(queue)
    first = asyncio.create_task(intake.ingest(tenant_id="a", events=events(1), now=NOW))
    await queue.writing.wait()
    sizes = {"b": 1500, "c": 500, "d": 1, "e": 2500, "f": 1}
    later = [
        asyncio.create_task(intake.ingest(tenant_id=name, events=events(count), now=NOW))
        for name, count in sizes.items()
    ]
    await asyncio.sleep(0)
    assert queue.gate is not None
    queue.gate.set()
    await asyncio.gather(first, *later)
    assert [tenants for tenants, _ in queue.groups] == [["a"], ["b", "c"], ["d"], ["e"], ["f"]]


async def test_an_outage_fails_every_request_of_the_group_at_once() -> None:
    queue = FakeQueue(gate=asyncio.Event(), failing={"b": DatabaseUnavailable("locked")})
    handover = RecordingHandover(room=100)
    intake = Intake(queue, handover=handover)
    first = asyncio.create_task(intake.ingest(tenant_id="a", events=events(1), now=NOW))
    await queue.writing.wait()
    later = [
        asyncio.create_task(intake.ingest(tenant_id=name, events=events(1), now=NOW))
        for name in "bcd"
    ]
    await asyncio.sleep(0)
    assert queue.gate is not None
    queue.gate.set()
    assert len(await first) == 1
    for request in later:
        with pytest.raises(DatabaseUnavailable, match="locked"):
            await request
    # One try for the three of them, not one each: they would all wait and fail alike.
    assert queue.sizes == [1, 3]
    assert handover.balanced and len(handover.handed) == 1


async def test_any_other_failure_is_tried_again_request_by_request() -> None:
    bad = ValidationFailed("text must not contain NUL")
    queue = FakeQueue(gate=asyncio.Event(), failing={"c": bad})
    handover = RecordingHandover(room=100)
    intake = Intake(queue, handover=handover)
    first = asyncio.create_task(intake.ingest(tenant_id="a", events=events(1), now=NOW))
    await queue.writing.wait()
    later = {
        name: asyncio.create_task(intake.ingest(tenant_id=name, events=events(2), now=NOW))
        for name in "bcd"
    }
    await asyncio.sleep(0)
    assert queue.gate is not None
    queue.gate.set()
    await first
    assert len(await later["b"]) == len(await later["d"]) == 2
    with pytest.raises(ValidationFailed) as raised:
        await later["c"]
    assert raised.value is bad
    assert [tenants for tenants, _ in queue.groups] == [["a"], ["b", "c", "d"], ["b"], ["c"], ["d"]]
    # The group's lease was given back; each request then had its own.
    assert [lease.count if lease else 0 for _, lease in queue.groups] == [1, 6, 2, 2, 2]
    assert handover.balanced and len(handover.handed) == 1 + 2 + 2


async def test_a_dead_writer_answers_every_waiting_request_and_the_next_one_starts_anew() -> None:
    queue = FakeQueue()
    handover = RecordingHandover(room=100, broken=True)
    intake = Intake(queue, handover=handover)
    answers = await asyncio.wait_for(
        asyncio.gather(
            *(intake.ingest(tenant_id=name, events=events(1), now=NOW) for name in "abc"),
            return_exceptions=True,
        ),
        5,
    )
    assert all(isinstance(answer, StoreError) for answer in answers), answers
    assert queue.groups == []
    handover.broken = False
    assert len(await intake.ingest(tenant_id="a", events=events(1), now=NOW)) == 1


async def test_fresh_deliveries_are_handed_over_while_there_is_room_and_the_rest_wake_it() -> None:
    queue = FakeQueue()
    handover = RecordingHandover(room=3)
    intake = Intake(queue, handover=handover)
    await intake.ingest(tenant_id="a", events=events(2, deliveries=1), now=NOW)
    assert (len(handover.handed), handover.woken) == (2, 0)
    await intake.ingest(tenant_id="a", events=events(2, deliveries=1), now=NOW)
    assert (len(handover.handed), handover.woken) == (3, 1)
    await intake.ingest(tenant_id="a", events=events(1, deliveries=0), now=NOW)
    # No deliveries: nothing to reserve, nothing to wake for.
    assert queue.groups[-1][1] is None and handover.woken == 1
    assert handover.balanced


async def test_without_a_dispatcher_nothing_is_leased() -> None:
    queue = FakeQueue()
    ids = await Intake(queue).ingest(tenant_id="a", events=events(3), now=NOW)
    assert len(ids) == 3 and queue.groups == [(["a"], None)]
