"""The dispatcher: claims due deliveries under a lease, sends them, records every attempt.

One loop claims batches (never more than there is free concurrency), one task
per delivery sends it through the shared ``Sender``, and one recorder task
writes results in batches, so the database sees a few large transactions
rather than one per delivery. A dispatcher that dies loses nothing: what it
had claimed becomes due again when the lease ends.

A database outage, however long, stops nothing for good: the claim loop pauses
between tries (growing to ``WAYPOST_DATABASE_RETRY_MAX`` seconds), results wait
in memory until they can be recorded, and the store logs the outage once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry.trace import Span, StatusCode

from waypost.config import Settings
from waypost.delivery.outbound import build_request
from waypost.delivery.outbound_auth import Authenticator
from waypost.delivery.sender import OutboundRequest, RequestSender, SendResult
from waypost.domain import eventcast
from waypost.domain.ack import needs_ack
from waypost.domain.attempts import FailureKind, Judgement, judge_attempt
from waypost.domain.auth import OAuth2Method
from waypost.domain.backoff import Backoff
from waypost.domain.masking import masked_headers
from waypost.domain.models import (
    SUBSCRIPTION_ENDED,
    AttemptRecord,
    ClaimedDelivery,
    DeliveryStatus,
    Lease,
    SendTarget,
)
from waypost.domain.retry import RetryPolicy
from waypost.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    TokenUnavailable,
    Unsendable,
    WaypostError,
)
from waypost.observability.metrics import Metrics
from waypost.observability.tracing import Tracing
from waypost.store.interfaces import DeliveryQueue

log = logging.getLogger(__name__)

# The ``outcome`` label of ``waypost_attempts_total`` for the status an attempt leaves.
_ATTEMPT_OUTCOMES = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.PENDING: "retry",
    DeliveryStatus.FAILED: "failed",
}

# A subscription's settings are re-read this often, so a rotation or an edit made
# through another process takes effect within this many seconds.
_TARGET_TTL = 5.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class _Target:
    send: SendTarget
    policy: RetryPolicy


class Dispatcher:
    """Sends due deliveries until ``stop`` is set; any number may share one database."""

    def __init__(
        self,
        queue: DeliveryQueue,
        sender: RequestSender,
        settings: Settings,
        *,
        authenticator: Authenticator,
        wakeup: asyncio.Event | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        if settings.lease_seconds <= max(settings.request_timeout, settings.ack_timeout):
            raise ConfigurationError(
                "WAYPOST_LEASE_SECONDS must exceed WAYPOST_REQUEST_TIMEOUT and "
                "WAYPOST_ACK_TIMEOUT, or a slow send could be sent twice"
            )
        self._queue = queue
        self._sender = sender
        self._authenticator = authenticator
        self._settings = settings
        self._wakeup = wakeup or asyncio.Event()
        self._clock = clock
        self._rng = rng or random.Random()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._targets: dict[str, tuple[float, _Target | None]] = {}
        self._results: asyncio.Queue[AttemptRecord] = asyncio.Queue()
        self._inflight: set[asyncio.Task[None]] = set()
        # Deliveries granted to ingest (``reserve``) or handed over and not yet started:
        # they count against the concurrency as if they were in flight.
        self._reserved = 0
        self._starting: set[asyncio.Task[None]] = set()
        self._accepting = False
        self._stop = asyncio.Event()
        # The results the recorder holds while it waits for the database.
        self._recording = 0
        # Claim again only once this many sends have finished: a claim is a write
        # transaction, and claiming one delivery per finished send would make the
        # database, not the network, the bottleneck.
        self._refill_at = max(
            1, min(settings.dispatch_concurrency, settings.dispatch_batch_size) // 4
        )
        self._room = asyncio.Event()
        self._metrics = metrics or Metrics()
        self._tracing = tracing or Tracing()
        self._metrics.watch_in_flight(lambda: len(self._inflight))

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until ``stop`` is set, then finish in-flight sends and record them."""
        self._stop = stop
        recorder = asyncio.create_task(self._record_forever())
        log.info("dispatcher_started owner=%s", self.owner)
        self._accepting = True
        backoff = Backoff(self._settings.database_retry_max)
        try:
            while not stop.is_set():
                if self._capacity() < self._refill_at:
                    await self._wait(self._room, stop, seconds=None)
                    continue
                try:
                    wanted, claimed = await self._claim_once()
                except DatabaseUnavailable:
                    # The store has logged the outage. New work announced once the
                    # database is back (LISTEN reconnected, an ingest) ends the pause early.
                    await self._wait(self._wakeup, stop, seconds=backoff.next())
                    continue
                except WaypostError as exc:
                    log.error("claim_failed owner=%s reason=%s", self.owner, exc.reason)
                    wanted, claimed = 1, 0
                backoff.reset()
                if claimed < wanted:
                    # Nothing more is due: sleep until new work is signalled or the poll
                    # interval passes (retries become due with time).
                    await self._wait(self._wakeup, stop, seconds=self._settings.poll_interval)
            self._accepting = False
            if self._starting:
                await asyncio.wait(self._starting)
            if self._inflight:
                await asyncio.wait(self._inflight)
            await self._record_remaining()
        finally:
            recorder.cancel()
            log.info("dispatcher_stopped owner=%s", self.owner)

    async def _record_remaining(self) -> None:
        """Wait until everything sent is recorded (the recorder never raises), or, while
        the database stays unavailable, for as long as a lease lasts: by then these
        deliveries are due again, for whichever dispatcher claims them next."""
        try:
            await asyncio.wait_for(self._results.join(), self._settings.lease_seconds)
        except TimeoutError:
            log.error(
                "record_abandoned owner=%s count=%d",
                self.owner,
                self._results.qsize() + self._recording,
            )

    @staticmethod
    async def _wait(signal: asyncio.Event, stop: asyncio.Event, *, seconds: float | None) -> None:
        """Sleep until ``signal`` or ``stop`` is set, or ``seconds`` pass."""
        signal.clear()
        waiters = [asyncio.ensure_future(signal.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    def reserve(self, wanted: int, now: datetime) -> Lease | None:
        """Room for up to ``wanted`` fresh deliveries of this process's ingest (``Handover``)."""
        granted = min(wanted, self._capacity()) if self._accepting else 0
        if granted <= 0:
            return None
        self._reserved += granted
        return Lease(owner=self.owner, until=self._lease_end(now), count=granted)

    def hand_over(self, deliveries: Sequence[ClaimedDelivery], lease: Lease) -> None:
        """Send deliveries stored under ``lease``; the rest of its room is free again."""
        self._free(lease.count - len(deliveries))
        if deliveries:
            task = asyncio.create_task(self._take(deliveries, lease.until))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    def release(self, lease: Lease) -> None:
        self._free(lease.count)

    def wake(self) -> None:
        self._wakeup.set()

    async def _take(self, deliveries: Sequence[ClaimedDelivery], lease_until: datetime) -> None:
        try:
            await self._start(deliveries, self._clock(), lease_until)
        except WaypostError as exc:
            # They are sent once their lease ends, by whichever dispatcher claims them.
            log.error("handover_failed count=%d reason=%s", len(deliveries), exc.reason)
        finally:
            self._free(len(deliveries))

    def _free(self, count: int) -> None:
        self._reserved -= count
        if self._capacity() >= self._refill_at:
            self._room.set()

    def _capacity(self) -> int:
        return max(0, self._settings.dispatch_concurrency - len(self._inflight) - self._reserved)

    def _lease_end(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._settings.lease_seconds)

    async def _claim_once(self) -> tuple[int, int]:
        """Claim and start what fits; returns how many were asked for and how many came."""
        wanted = min(self._capacity(), self._settings.dispatch_batch_size)
        now = self._clock()
        lease_until = self._lease_end(now)
        started = time.perf_counter()
        claimed = await self._queue.claim_due(
            owner=self.owner, limit=wanted, now=now, lease_until=lease_until
        )
        self._metrics.claimed(len(claimed), time.perf_counter() - started)
        if claimed:
            await self._start(claimed, now, lease_until)
        return wanted, len(claimed)

    async def _start(
        self, claimed: Sequence[ClaimedDelivery], now: datetime, lease_until: datetime
    ) -> None:
        """A task per delivery leased to this dispatcher until ``lease_until``; those of
        ended subscriptions are cancelled."""
        targets = await self._load_targets(
            {delivery.webhook_id for delivery in claimed}, now, lease_until
        )
        ended = []
        for delivery in claimed:
            target = targets.get(delivery.webhook_id)
            if target is None:
                ended.append(delivery.id)
                continue
            task = asyncio.create_task(self._deliver(delivery, target))
            self._inflight.add(task)
            task.add_done_callback(self._finished)
        if ended:
            await self._queue.cancel_deliveries(
                owner=self.owner, delivery_ids=ended, reason=SUBSCRIPTION_ENDED, now=now
            )

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._capacity() >= self._refill_at:
            self._room.set()
        if not task.cancelled() and task.exception() is not None:
            # ``_deliver`` records every failure of the attempt itself, so this is a defect
            # in recording it; the delivery is sent again when its lease ends.
            log.error("deliver_crashed", exc_info=task.exception())

    async def _load_targets(
        self, webhook_ids: set[str], now: datetime, lease_until: datetime
    ) -> dict[str, _Target]:
        """Subscriptions with decrypted secrets, cached briefly: decrypting per send is costly."""
        clock = time.monotonic()
        missing = [
            webhook_id
            for webhook_id in webhook_ids
            if webhook_id not in self._targets or self._targets[webhook_id][0] < clock
        ]
        if missing:
            found = await self._send_targets(missing, now, lease_until)
            for webhook_id in missing:
                send = found.get(webhook_id)
                target = _Target(send=send, policy=self._policy(send)) if send else None
                self._targets[webhook_id] = (clock + _TARGET_TTL, target)
        result = {}
        for webhook_id in webhook_ids:
            target = self._targets[webhook_id][1]
            if target is not None:
                result[webhook_id] = target
        return result

    async def _send_targets(
        self, webhook_ids: list[str], now: datetime, lease_until: datetime
    ) -> dict[str, SendTarget]:
        """The subscriptions of deliveries just leased. While the database is unavailable
        they are asked for again, as long as a send started then would still end within
        the lease; after that the deliveries wait for their lease to end and are claimed
        again like any other."""
        slowest = max(self._settings.request_timeout, self._settings.ack_timeout)
        last_start = lease_until - timedelta(seconds=slowest)
        backoff = Backoff(self._settings.database_retry_max)
        while True:
            try:
                return await self._queue.send_targets(subscription_ids=webhook_ids, now=now)
            except DatabaseUnavailable:
                pause = backoff.next()
                if self._stop.is_set() or self._clock() + timedelta(seconds=pause) > last_start:
                    raise
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)

    def _policy(self, target: SendTarget) -> RetryPolicy:
        subscription = target.subscription
        if subscription.retry_delays is not None:
            delays = subscription.retry_delays
        elif subscription.tracking_id is not None:
            delays = self._settings.eventcast_retry_delays
        else:
            delays = self._settings.retry_delays
        return RetryPolicy(delays=delays, jitter=subscription.retry_jitter)

    async def _send(
        self, delivery: ClaimedDelivery, target: SendTarget, now: datetime
    ) -> tuple[SendResult, Mapping[str, str]]:
        """One attempt, with the subscription's credentials, and the headers it sent. An
        OAuth2 token the target refuses (401) is replaced and the request sent once more,
        within the attempt."""
        payload = delivery.payload
        if target.subscription.tracking_id is not None:
            payload = eventcast.with_pushed(payload, now)
        body = payload.encode()
        timeout = (
            self._settings.ack_timeout
            if needs_ack(delivery.event_type, target.subscription.require_ack)
            else None
        )
        for _ in range(2):
            credentials = None
            with self._tracing.http_client(target.subscription.url) as (span, traceparent):
                try:
                    if target.auth is not None:
                        credentials = await self._authenticator.credentials(
                            target.auth, delivery_id=delivery.id, body=body, now=now
                        )
                    request = build_request(
                        target,
                        body,
                        delivery.id,
                        now,
                        credentials.headers if credentials else None,
                        traceparent=traceparent,
                    )
                except TokenUnavailable as exc:
                    return SendResult.failed_before_sending(FailureKind.AUTH_ERROR, str(exc)), {}
                except Unsendable as exc:
                    return SendResult.failed_before_sending(FailureKind.UNSENDABLE, exc.reason), {}
                result = await self._sender.send(
                    OutboundRequest(
                        url=request.url, headers=request.headers, body=body, timeout=timeout
                    )
                )
                if span is not None:
                    _annotate(span, result, None)
            if (
                result.status_code != 401
                or credentials is None
                or credentials.token is None
                or not isinstance(target.auth, OAuth2Method)
            ):
                return result, request.headers
            self._authenticator.reject(target.auth, credentials.token)
        return result, request.headers

    async def _deliver(self, delivery: ClaimedDelivery, target: _Target) -> None:
        """One attempt, always recorded: whatever fails on the way (credentials, signing,
        building, sending, judging the answer) is the attempt's outcome, so a delivery
        never waits for its lease to run out only to fail the same way again."""
        number = delivery.attempt_count + 1
        if not self._tracing.enabled:
            result, sent_headers, judgement = await self._attempt(delivery, target)
        else:
            attributes = {
                "waypost.delivery_id": delivery.id,
                "waypost.webhook_id": delivery.webhook_id,
                "waypost.event_type": delivery.event_type,
                "waypost.attempt": number,
            }
            with self._tracing.attempt(delivery.traceparent, **attributes) as span:
                result, sent_headers, judgement = await self._attempt(delivery, target)
                _annotate(span, result, _ATTEMPT_OUTCOMES[judgement.status])
        outcome = _ATTEMPT_OUTCOMES[judgement.status]
        self._metrics.attempted(outcome, result.duration_ms)
        # Every attempt at DEBUG; those that did not deliver at INFO, where they are seen.
        log.log(
            logging.DEBUG if judgement.status == DeliveryStatus.DELIVERED else logging.INFO,
            "attempt_recorded tenant_id=%s delivery_id=%s webhook_id=%s attempt=%d "
            "status_code=%s duration_ms=%.1f outcome=%s",
            delivery.tenant_id,
            delivery.id,
            delivery.webhook_id,
            number,
            result.status_code,
            result.duration_ms,
            outcome,
        )
        self._results.put_nowait(
            AttemptRecord(
                delivery_id=delivery.id,
                number=number,
                started_at=result.started_at,
                duration_ms=result.duration_ms,
                status_code=result.status_code,
                response_headers=result.response_headers,
                response_excerpt=_excerpt(result.body, self._settings.response_excerpt_bytes),
                error=judgement.error,
                status=judgement.status,
                request_headers=tuple(masked_headers(sent_headers)),
                next_attempt_at=judgement.next_attempt_at,
                ack=judgement.ack,
                ack_error_message=judgement.ack_error_message,
                ends_subscription=judgement.ends_subscription,
            )
        )

    async def _attempt(
        self, delivery: ClaimedDelivery, target: _Target
    ) -> tuple[SendResult, Mapping[str, str], Judgement]:
        """Send and judge one attempt; a defect on the way is its outcome."""
        now = self._clock()
        try:
            result, sent_headers = await self._send(delivery, target.send, now)
            # Retry-After and the backoff count from the answer, not from the request.
            judgement = self._judge(result, delivery, target, self._clock())
        except Exception as exc:
            # A defect. Only the exception's type goes into the attempt, which users see:
            # its message may quote a header value or another secret.
            reason = f"internal error: {_type_name(exc)} (see the log)"
            log.exception("deliver_failed_locally delivery_id=%s reason=%s", delivery.id, reason)
            result = SendResult.failed_before_sending(FailureKind.INTERNAL_ERROR, reason)
            sent_headers = {}
            judgement = self._judge(result, delivery, target, self._clock())
        if result.failure == FailureKind.UNSENDABLE:
            log.warning(
                "deliver_failed_locally delivery_id=%s reason=%s", delivery.id, result.error
            )
        return result, sent_headers, judgement

    def _judge(
        self, result: SendResult, delivery: ClaimedDelivery, target: _Target, now: datetime
    ) -> Judgement:
        subscription = target.send.subscription
        return judge_attempt(
            result,
            attempt=delivery.attempt_count + 1,
            event_type=delivery.event_type,
            eventcast=subscription.tracking_id is not None,
            success_codes=subscription.success_codes,
            require_ack=subscription.require_ack,
            policy=target.policy,
            now=now,
            rng=self._rng,
        )

    async def _record_forever(self) -> None:
        """Write results in batches: whatever accumulated while the last write ran."""
        while True:
            batch = [await self._results.get()]
            while len(batch) < self._settings.dispatch_batch_size and not self._results.empty():
                batch.append(self._results.get_nowait())
            self._recording = len(batch)
            await self._record(batch)
            self._recording = 0
            for _ in batch:
                self._results.task_done()

    async def _record(self, batch: Sequence[AttemptRecord]) -> None:
        backoff = Backoff(self._settings.database_retry_max)
        while True:
            try:
                started = time.perf_counter()
                await self._queue.record_attempts(owner=self.owner, records=batch)
                self._metrics.recorded(len(batch), time.perf_counter() - started)
                return
            except DatabaseUnavailable:
                # Keep the results and try again, for as long as the outage lasts (the
                # store has logged it); the leases keep other dispatchers off these
                # deliveries until they end.
                await asyncio.sleep(backoff.next())
            except WaypostError as exc:
                # Not an outage: the database refuses something in the batch, and trying
                # the same again cannot help. The others must not wait for it, so each is
                # recorded alone; one refused alone is dropped (its lease runs out and it
                # is sent again).
                if len(batch) > 1:
                    for record in batch:
                        await self._record([record])
                    return
                log.error("record_dropped count=1 reason=%s", exc.reason)
                return
            except Exception:
                # A defect, not an outage: retrying cannot help. Nothing is lost, as the
                # leases expire and these deliveries are sent again.
                log.exception("record_dropped count=%d", len(batch))
                return


def _annotate(span: Span, result: SendResult, outcome: str | None) -> None:
    """What a span may say of an attempt's answer: its status code, the kind of failure,
    the outcome; never a header value, a body or an error text (it may quote a URL)."""
    if result.status_code is not None:
        span.set_attribute("http.response.status_code", result.status_code)
    if result.failure is not None:
        span.set_attribute("error.type", str(result.failure))
    if outcome is not None:
        span.set_attribute("waypost.outcome", outcome)
        if outcome != "delivered":
            span.set_status(StatusCode.ERROR)


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _excerpt(body: bytes, limit: int) -> str:
    # PostgreSQL's text cannot hold NUL; a receiver's body may contain one.
    return body[:limit].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
