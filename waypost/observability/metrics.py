"""Prometheus metrics of one process, in a registry that process owns.

Counters and histograms are updated where the work happens (ingest, the dispatcher's
attempts, claims and records, HTTP requests); the queue gauges are read from the
database when Prometheus scrapes, at most once per ``QUEUE_REFRESH_SECONDS``, so a
dashboard refreshing every second costs the database one small index read every few
seconds. No label holds a URL, a tenant or an id: their values are a handful of words.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from waypost.errors import WaypostError
from waypost.store.outage import DatabaseHealth
from waypost.store.queue_stats import QueueStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUE_REFRESH_SECONDS = 5.0
QUEUE_READ_TIMEOUT = 2.0
# An attempt's latency spans a fast receiver on the same network (a few ms) to the
# request timeout (30 s by default).
_ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
_DATABASE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class QueueReader(Protocol):
    async def queue_stats(self, *, now: datetime) -> QueueStats: ...


@dataclass
class _QueueCache:
    stats: QueueStats | None = None
    read_at: float = float("-inf")


class Metrics:
    """Every metric of one process. ``registry`` is what ``/metrics`` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue = QueueGauges()
        r.register(self.queue)
        self.events_ingested = Counter(
            "waypost_events_ingested", "Events stored (idempotent repeats excluded)", registry=r
        )
        self.deliveries_created = Counter(
            "waypost_deliveries_created", "Deliveries created by ingest (fan-out)", registry=r
        )
        self.attempts = Counter(
            "waypost_attempts",
            "Attempts sent, by what they decided for the delivery",
            ["outcome"],
            registry=r,
        )
        for outcome in ("delivered", "retry", "failed"):
            self.attempts.labels(outcome)
        self.attempt_duration = Histogram(
            "waypost_attempt_duration_seconds",
            "Time from sending an attempt's request to its answer (or failure)",
            buckets=_ATTEMPT_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "waypost_dispatcher_in_flight", "Attempts being sent by this process", registry=r
        )
        self.claim_size = Histogram(
            "waypost_claim_batch_size", "Deliveries per claim", buckets=_BATCH_BUCKETS, registry=r
        )
        self.claim_duration = Histogram(
            "waypost_claim_duration_seconds",
            "Duration of one claim transaction",
            buckets=_DATABASE_BUCKETS,
            registry=r,
        )
        self.record_size = Histogram(
            "waypost_record_batch_size",
            "Attempts per record transaction",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.record_duration = Histogram(
            "waypost_record_duration_seconds",
            "Duration of one record transaction",
            buckets=_DATABASE_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "waypost_http_requests",
            "HTTP requests answered, by route template and status code",
            ["route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "waypost_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            buckets=_DATABASE_BUCKETS,
            registry=r,
        )

    def ingested(self, events: int, deliveries: int) -> None:
        self.events_ingested.inc(events)
        self.deliveries_created.inc(deliveries)

    def attempted(self, outcome: str, duration_ms: float) -> None:
        self.attempts.labels(outcome).inc()
        self.attempt_duration.observe(duration_ms / 1000)

    def claimed(self, count: int, seconds: float) -> None:
        self.claim_size.observe(count)
        self.claim_duration.observe(seconds)

    def recorded(self, count: int, seconds: float) -> None:
        self.record_size.observe(count)
        self.record_duration.observe(seconds)

    def watch_in_flight(self, count: Callable[[], int]) -> None:
        """Read the dispatcher's in-flight count at each scrape."""
        self.in_flight.set_function(count)

    def watch_database(self, health: DatabaseHealth) -> None:
        self.registry.register(_DatabaseCollector(health))


class QueueGauges(Collector):
    """The queue as the database last told it, rendered at each scrape."""

    def __init__(self) -> None:
        self._cache = _QueueCache()

    def stale(self, clock: float) -> bool:
        return clock - self._cache.read_at >= QUEUE_REFRESH_SECONDS

    def update(self, stats: QueueStats | None, clock: float) -> None:
        """``None``: the database did not answer; the gauges are left out rather than
        shown as an empty queue."""
        self._cache = _QueueCache(stats=stats, read_at=clock)

    def collect(self) -> Iterable[Metric]:
        stats = self._cache.stats
        if stats is None:
            return []
        age = 0.0
        if stats.oldest_due_at is not None:
            age = max(0.0, (datetime.now(UTC) - stats.oldest_due_at).total_seconds())
        return [
            GaugeMetricFamily(
                "waypost_queue_pending", "Deliveries waiting, due or not", value=stats.pending
            ),
            GaugeMetricFamily(
                "waypost_queue_due", "Pending deliveries due now and not leased", value=stats.due
            ),
            GaugeMetricFamily(
                "waypost_queue_oldest_due_seconds",
                "How long the longest-waiting due delivery has been due",
                value=age,
            ),
        ]


class _DatabaseCollector(Collector):
    def __init__(self, health: DatabaseHealth) -> None:
        self._health = health

    def collect(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily(
                "waypost_database_up",
                "1 while this process reaches its database, 0 during an outage",
                value=0 if self._health.down else 1,
            ),
            CounterMetricFamily(
                "waypost_database_outages",
                "Database outages this process has seen",
                value=self._health.outages,
            ),
        ]


async def render(metrics: Metrics, store: QueueReader) -> bytes:
    """The exposition text, the queue gauges first refreshed if they are stale. A database
    that does not answer within ``QUEUE_READ_TIMEOUT`` leaves them out of this scrape;
    the process's own metrics are rendered all the same."""
    clock = time.monotonic()
    if metrics.queue.stale(clock):
        try:
            stats = await asyncio.wait_for(
                store.queue_stats(now=datetime.now(UTC)), QUEUE_READ_TIMEOUT
            )
        except (TimeoutError, WaypostError):
            stats = None
        metrics.queue.update(stats, clock)
    return generate_latest(metrics.registry)
