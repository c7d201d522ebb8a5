"""The dispatcher's bookkeeping with a fake queue and a fake sender: no database, no sockets.

Claims and hand-overs never exceed the concurrency, results are recorded in batches,
a failing record is kept (outage) or dropped (defect), and a stop lets in-flight sends
finish and be recorded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from tests.unit.fake_groups import stored_in_memory
from waypost.config import Settings
from waypost.delivery.dispatcher import Dispatcher
from waypost.delivery.intake import Intake
from waypost.delivery.outbound_auth import Authenticator
from waypost.delivery.sender import OutboundRequest, SendResult
from waypost.domain.models import (
    AttemptRecord,
    ClaimedDelivery,
    DeliveryStatus,
    Lease,
    NewEvent,
    SendTarget,
    Subscription,
)
from waypost.domain.signing import generate_secret
from waypost.domain.values import NewDelivery
from waypost.errors import DatabaseUnavailable, StoreError
from waypost.store.deliveries import EventBatch, StoredBatch
from waypost.store.interfaces import DeliveryQueue

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WEBHOOK = "0b8f2a4e-8f7e-4d6c-9d8a-2f1e3c4b5a69"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "dispatch_concurrency": 8,
        "dispatch_batch_size": 8,
        "request_timeout": 0.1,
        "ack_timeout": 0.1,
        "lease_seconds": 30.0,
        # Claims come from the tests' moves, not from the poll.
        "poll_interval": 60.0,
        "database_retry_max": 0.01,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


def delivery(number: int = 0) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=str(uuid.uuid4()),
        tenant_id="tenant",
        event_id=str(uuid.uuid4()),
        webhook_id=WEBHOOK,
        event_type="task_created",
        tracking_id=None,
        attempt_count=0,
        payload=f'{{"n":{number}}}',
        created_at=NOW,
    )


def target() -> SendTarget:
    subscription = Subscription(
        id=WEBHOOK,
        tenant_id="tenant",
        authenticator="key",
        tracking_id=None,
        url="http://receiver.test/hook",
        content_type="application/json",
        header_keys=(),
        event_groups=(),
        event_types=("task_created",),
        filters=(),
        fields=None,
        auth_method_id=None,
        success_codes="200",
        retry_delays=None,
        retry_jitter=0.0,
        require_ack=False,
        created_at=NOW,
        expires_at=None,
        ended_at=None,
    )
    return SendTarget(subscription=subscription, headers=(), secrets=(generate_secret(),))


@dataclass
class FakeQueue:
    """The store as the dispatcher and the intake see it, in memory."""

    due: list[ClaimedDelivery] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    """The ``limit`` of every claim, in order."""
    recorded: list[list[AttemptRecord]] = field(default_factory=list)
    """Every batch written, in order."""
    record_calls: int = 0
    record_errors: list[Exception] = field(default_factory=list)
    """Raised by the next writes, one each, before they succeed again."""
    record_gate: asyncio.Event | None = None
    refused_ids: set[str] = field(default_factory=set)
    """Deliveries whose records the database refuses (a value it cannot store)."""
    """While set to an unset event, a write waits for it."""
    writing: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: list[str] = field(default_factory=list)
    targets: dict[str, SendTarget] = field(default_factory=lambda: {WEBHOOK: target()})

    async def claim_due(
        self, *, owner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[ClaimedDelivery]:
        self.claims.append(limit)
        claimed, self.due = self.due[:limit], self.due[limit:]
        return claimed

    async def send_targets(
        self, *, subscription_ids: Sequence[str], now: datetime
    ) -> dict[str, SendTarget]:
        return {key: value for key, value in self.targets.items() if key in subscription_ids}

    async def record_attempts(self, *, owner: str, records: Sequence[AttemptRecord]) -> None:
        self.record_calls += 1
        self.writing.set()
        if self.record_gate is not None:
            await self.record_gate.wait()
        if self.record_errors:
            raise self.record_errors.pop(0)
        if any(record.delivery_id in self.refused_ids for record in records):
            raise StoreError("the database refused a value")
        self.recorded.append(list(records))

    async def cancel_deliveries(
        self, *, owner: str, delivery_ids: Sequence[str], reason: str, now: datetime
    ) -> None:
        self.cancelled.extend(delivery_ids)

    async def insert_group(
        self, *, batches: Sequence[EventBatch], lease: Lease | None
    ) -> list[StoredBatch]:
        stored, unleased = stored_in_memory(batches, lease)
        self.due.extend(unleased)
        return stored

    @property
    def recorded_ids(self) -> list[str]:
        return [record.delivery_id for batch in self.recorded for record in batch]


@dataclass
class FakeSender:
    """Answers 200 to every request; while ``hold`` is set, each waits to be released."""

    hold: bool = False
    waiting: list[asyncio.Future[None]] = field(default_factory=list)
    sent: list[OutboundRequest] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def send(self, request: OutboundRequest) -> SendResult:
        self.sent.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hold:
                answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self.waiting.append(answer)
                await answer
        finally:
            self.in_flight -= 1
        return SendResult(
            started_at=NOW,
            duration_ms=1.0,
            status_code=200,
            response_headers={},
            body=b"",
            failure=None,
            error=None,
        )

    def release(self, count: int | None = None) -> None:
        """Let ``count`` held sends answer, oldest first; ``None``: all of them, and hold
        none from now on."""
        if count is None:
            self.hold = False
        waiting = [answer for answer in self.waiting if not answer.done()]
        for answer in waiting[:count] if count is not None else waiting:
            answer.set_result(None)


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Let the loop run until ``condition`` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.001)


async def settle() -> None:
    """Let every task that can run, run: nothing else is going to happen by itself."""
    for _ in range(50):
        await asyncio.sleep(0)


@dataclass
class Running:
    dispatcher: Dispatcher
    queue: FakeQueue
    sender: FakeSender
    stop: asyncio.Event
    run: asyncio.Task[None]
    wakeup: asyncio.Event


@asynccontextmanager
async def running(
    queue: FakeQueue, sender: FakeSender, **overrides: object
) -> AsyncIterator[Running]:
    """A dispatcher running on ``queue`` and ``sender``; stopped and awaited at the end."""
    wakeup = asyncio.Event()
    dispatcher = make_dispatcher(queue, sender, wakeup=wakeup, **overrides)
    stop = asyncio.Event()
    run = asyncio.create_task(dispatcher.run(stop))
    try:
        yield Running(dispatcher, queue, sender, stop, run, wakeup)
    finally:
        stop.set()
        sender.release()
        if queue.record_gate is not None:
            queue.record_gate.set()
        await asyncio.wait_for(run, 10)


def make_dispatcher(
    queue: DeliveryQueue,
    sender: FakeSender,
    wakeup: asyncio.Event | None = None,
    **overrides: object,
) -> Dispatcher:
    return Dispatcher(
        queue,
        sender,
        settings(**overrides),
        authenticator=Authenticator(sender),
        wakeup=wakeup,
    )


async def test_claims_only_with_room_for_a_refill_and_never_beyond_the_concurrency() -> None:
    # Concurrency 8 and batches of 8: a claim waits until 2 sends (a quarter) have ended.
    queue = FakeQueue(due=[delivery(n) for n in range(20)])
    sender = FakeSender(hold=True)
    async with running(queue, sender):
        await eventually(lambda: len(sender.waiting) == 8)
        assert queue.claims == [8]
        sender.release(1)
        await settle()
        assert queue.claims == [8], "one free place is less than a refill"
        sender.release(1)
        await eventually(lambda: len(sender.waiting) == 10)
        assert queue.claims == [8, 2]
        sender.release()
        await eventually(lambda: len(queue.recorded_ids) == 20)
    assert sender.most_in_flight == 8
    assert max(queue.claims) == 8
    assert len(set(queue.recorded_ids)) == 20


async def test_room_granted_to_ingest_counts_until_handed_over_or_released() -> None:
    queue = FakeQueue()
    sender = FakeSender(hold=True)
    idle = make_dispatcher(queue, sender)
    now = NOW
    assert idle.reserve(5, now) is None, "a dispatcher that is not running takes nothing"
    async with running(queue, sender) as run:
        dispatcher = run.dispatcher
        await eventually(lambda: queue.claims == [8])
        first = dispatcher.reserve(5, now)
        second = dispatcher.reserve(10, now)
        assert first is not None and second is not None
        assert (first.count, second.count) == (5, 3)
        assert first.owner == second.owner == dispatcher.owner
        assert dispatcher.reserve(1, now) is None, "all 8 places are taken"

        dispatcher.release(first)
        handed = [delivery(n) for n in range(2)]
        # Two of the second lease's three places are used; the third is free again.
        dispatcher.hand_over(handed, second)
        await eventually(lambda: len(sender.waiting) == 2)
        regranted = dispatcher.reserve(100, now)
        assert regranted is not None and regranted.count == 8 - 2
        dispatcher.release(regranted)
        assert queue.claims == [8], "what is handed over is sent without a claim"

        sender.release()
        await eventually(lambda: len(queue.recorded_ids) == 2)
        assert sorted(queue.recorded_ids) == sorted(d.id for d in handed)
        assert {record.status for batch in queue.recorded for record in batch} == {
            DeliveryStatus.DELIVERED
        }
    assert sender.most_in_flight == 2


async def test_the_intake_hands_fresh_deliveries_over_and_the_rest_wait_for_a_claim() -> None:
    queue = FakeQueue()
    sender = FakeSender(hold=True)
    async with running(queue, sender, dispatch_concurrency=4, dispatch_batch_size=4) as run:
        await eventually(lambda: queue.claims == [4])
        intake = Intake(queue, handover=run.dispatcher)
        events = [
            NewEvent(
                id=str(uuid.uuid4()),
                type="task_created",
                tracking_id=None,
                data="{}",
                idempotency_key=None,
                deliveries=(NewDelivery(id=str(uuid.uuid4()), webhook_id=WEBHOOK, payload="{}"),),
            )
            for _ in range(6)
        ]
        ids = await intake.ingest(tenant_id="tenant", events=events, now=NOW)
        assert ids == [event.id for event in events]
        # Four fit: handed over, sent without a claim; the other two wait in the queue,
        # and the dispatcher was woken for them.
        await eventually(lambda: len(sender.waiting) == 4)
        assert queue.claims == [4] and len(queue.due) == 2
        sender.release()
        await eventually(lambda: len(queue.recorded_ids) == 6)
        assert queue.claims[-1] >= 2


async def test_results_that_arrive_during_a_write_are_recorded_in_one_batch() -> None:
    queue = FakeQueue(due=[delivery(n) for n in range(7)], record_gate=asyncio.Event())
    sender = FakeSender(hold=True)
    async with running(queue, sender, dispatch_batch_size=4):
        await eventually(lambda: len(sender.waiting) == 7)
        sender.release(1)
        await eventually(lambda: queue.writing.is_set())
        # The first result is being written; the other six finish meanwhile.
        sender.release()
        await eventually(lambda: sender.in_flight == 0)
        await settle()
        assert queue.record_calls == 1
        assert queue.record_gate is not None
        queue.record_gate.set()
        await eventually(lambda: len(queue.recorded_ids) == 7)
    # At most a batch (4) per write: the six that waited took two writes, not six.
    assert [len(batch) for batch in queue.recorded] == [1, 4, 2]


async def test_an_outage_keeps_the_results_and_records_them_once_the_database_is_back() -> None:
    queue = FakeQueue(due=[delivery(n) for n in range(3)])
    queue.record_errors = [DatabaseUnavailable("down"), DatabaseUnavailable("down")]
    sender = FakeSender()
    async with running(queue, sender):
        await eventually(lambda: len(queue.recorded_ids) == 3)
    assert queue.record_calls >= 3
    assert len(set(queue.recorded_ids)) == 3


async def test_a_record_the_database_refuses_is_dropped_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not an outage: retrying the same batch would fail for ever and hold back every later
    result, so each of its records is tried alone and only the refused one is dropped."""
    due = [delivery(n) for n in range(3)]
    queue = FakeQueue(due=due, record_gate=asyncio.Event(), refused_ids={due[1].id})
    sender = FakeSender(hold=True)
    async with running(queue, sender):
        await eventually(lambda: len(sender.waiting) == 3)
        sender.release(1)
        await eventually(lambda: queue.writing.is_set())
        # The first result is being written; the other two wait for the next batch.
        sender.release()
        await eventually(lambda: sender.in_flight == 0)
        await settle()
        assert queue.record_gate is not None
        queue.record_gate.set()
        await eventually(lambda: len(queue.recorded_ids) == 2)
        await settle()
    assert sorted(queue.recorded_ids) == sorted([due[0].id, due[2].id])
    # The batch of two, then each alone.
    assert queue.record_calls == 4
    assert "record_dropped count=1 reason=the database refused a value" in [
        record.getMessage() for record in caplog.records
    ]


async def test_a_defect_in_recording_drops_the_batch_and_the_recorder_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    queue = FakeQueue(due=[delivery(0)])
    queue.record_errors = [RuntimeError("a bug")]
    sender = FakeSender()
    async with running(queue, sender) as run:
        await eventually(lambda: queue.record_calls == 1)
        await settle()
        # Not retried: its leases end and the delivery is sent again by whoever claims it.
        assert queue.record_calls == 1 and queue.recorded == []
        assert "record_dropped count=1" in [r.getMessage() for r in caplog.records]
        queue.due.append(delivery(1))
        run.wakeup.set()
        await eventually(lambda: len(queue.recorded_ids) == 1)
    assert queue.record_calls == 2


async def test_a_stop_lets_sends_in_flight_finish_and_records_them_before_returning() -> None:
    queue = FakeQueue(due=[delivery(n) for n in range(5)])
    sender = FakeSender(hold=True)
    wakeup = asyncio.Event()
    dispatcher = make_dispatcher(queue, sender, wakeup=wakeup)
    stop = asyncio.Event()
    run = asyncio.create_task(dispatcher.run(stop))
    await eventually(lambda: len(sender.waiting) == 5)
    stop.set()
    queue.due.append(delivery(5))
    wakeup.set()
    await settle()
    assert not run.done(), "five sends are still in flight"
    assert dispatcher.reserve(1, NOW) is None, "a stopping dispatcher takes nothing new"
    sender.release()
    await asyncio.wait_for(run, 5)
    assert len(queue.recorded_ids) == 5
    assert queue.claims == [8] and len(queue.due) == 1


async def test_a_stop_during_an_outage_waits_for_the_record_at_most_a_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = FakeQueue(due=[delivery()])
    queue.record_errors = [DatabaseUnavailable("down")] * 1000
    sender = FakeSender()
    dispatcher = make_dispatcher(queue, sender, lease_seconds=0.3)
    stop = asyncio.Event()
    run = asyncio.create_task(dispatcher.run(stop))
    await eventually(lambda: queue.record_calls >= 1)
    stop.set()
    await asyncio.wait_for(run, 5)
    assert queue.recorded == []
    assert any(r.getMessage().startswith("record_abandoned") for r in caplog.records)


async def test_deliveries_of_ended_subscriptions_are_cancelled_not_sent() -> None:
    queue = FakeQueue(due=[delivery()], targets={})
    sender = FakeSender()
    async with running(queue, sender):
        await eventually(lambda: len(queue.cancelled) == 1)
    assert sender.sent == [] and queue.recorded == []
