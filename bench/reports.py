"""Undelivered Webhooks Report of N failed deliveries: build time and the builder's peak memory.

Per database: a fresh database is seeded through the store (one tenant, one
subscription, N ``task_created`` events of a 1.5 KB order, each with one
delivery, ingested 1,000 per transaction; then every delivery claimed and given
one failed attempt, HTTP 503, 5,000 per transaction). A report covering the
whole seeding range (every type, no keyword) is then requested and built by one
``ReportWorker.work_once()`` in a child process of its own, so that the peak
resident set (VmHWM, read by the child just before it exits) is the builder's
alone. Afterwards the stored parts are streamed back, decompressed and parsed
as CSV: the row count must be N, in strictly increasing failed_at order (each
failure was seeded with its own time), so no row is missing or repeated.

Usage: python -m bench.reports [--rows N] [--databases sqlite,postgresql]
Prints one JSON line per database with the figures; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import csv
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.common import (
    INGEST_BATCH,
    SECRET_KEY,
    database,
    machine,
    median,
    order_payload,
    peak_rss_mb,
    rss_mb,
)
from waypost.config import Settings, load_settings
from waypost.delivery.intake import Intake
from waypost.delivery.sender import Sender
from waypost.domain.keys import issue_key
from waypost.domain.models import AttemptRecord, DeliveryStatus, NewEvent, SubscriptionSpec
from waypost.domain.reports import COLUMNS, ReportRequest
from waypost.domain.signing import generate_secret
from waypost.domain.values import NewDelivery
from waypost.reports.worker import ReportWorker
from waypost.store import Store, open_store

PAYLOAD_BYTES = 1536
FAIL_BATCH = 5_000
PROGRESS_EVERY = 100_000
# Bounds the build; PostgreSQL without statistics took over half an hour for 1,000,000 rows.
BUILD_TIMEOUT_SECONDS = 7_200
URL = "https://carrier.example.com/hook"
ERROR = "HTTP 503 after 4 attempts"


def log(message: str) -> None:
    print(f"[reports {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settings_for(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key=SECRET_KEY)


@dataclass(frozen=True, kw_only=True)
class Seeded:
    tenant_id: str
    report_id: str
    ingest_seconds: float
    fail_seconds: float


def _event(number: int, webhook_id: str) -> NewEvent:
    # A Bringg subscription without tracking id or field selection receives the event's
    # data as it is (waypost.domain.fanout.plan), so the delivery's payload is the order.
    body = orjson.dumps(order_payload(number, PAYLOAD_BYTES)).decode()
    return NewEvent(
        id=str(uuid.uuid4()),
        type="task_created",
        tracking_id=f"ORD-{number:08d}",
        data=body,
        idempotency_key=None,
        deliveries=(NewDelivery(id=str(uuid.uuid4()), webhook_id=webhook_id, payload=body),),
    )


async def _fail_all(store: Store, rows: int) -> None:
    """Claim every delivery and record one failed attempt each, ``FAIL_BATCH`` at a time."""
    owner = f"bench-reports-{uuid.uuid4().hex[:8]}"
    failed = 0
    # Bounded: each round fails FAIL_BATCH deliveries or stops the seeding.
    for _ in range(rows // FAIL_BATCH + 2):
        if failed >= rows:
            return
        now = datetime.now(UTC)
        claimed = await store.claim_due(
            owner=owner, limit=FAIL_BATCH, now=now, lease_until=now + timedelta(minutes=10)
        )
        if not claimed:
            break
        records = [
            AttemptRecord(
                delivery_id=delivery.id,
                number=delivery.attempt_count + 1,
                # Distinct failure times, as real failures have; ties would only add
                # work to the report's (failed_at, id) ordering.
                started_at=now + timedelta(microseconds=index),
                duration_ms=12.5,
                status_code=503,
                response_headers={"Content-Type": "text/html", "Retry-After": "120"},
                response_excerpt="<html><body><h1>503 Service Unavailable</h1></body></html>",
                error=ERROR,
                status=DeliveryStatus.FAILED,
                request_headers=(),
                next_attempt_at=None,
            )
            for index, delivery in enumerate(claimed)
        ]
        await store.record_attempts(owner=owner, records=records)
        failed += len(claimed)
        if failed % PROGRESS_EVERY < FAIL_BATCH:
            log(f"failed {failed:,} of {rows:,}")
    if failed != rows:
        raise RuntimeError(f"seeding: {failed} deliveries failed, expected {rows}")


async def seed(database_url: str, rows: int) -> Seeded:
    """A tenant, a subscription, ``rows`` failed deliveries and a pending report of them all."""
    store = await open_store(settings_for(database_url), run_migrations=True)
    try:
        key = issue_key()
        tenant, _, api_key = await store.create_tenant(
            name="bench",
            email=f"bench-{uuid.uuid4().hex[:6]}@example.com",
            # Nobody signs in: a hash is never checked here, and argon2 would only cost time.
            password_hash="not-a-password-hash",
            key_prefix=key.prefix,
            key_digest=key.digest,
            now=datetime.now(UTC),
        )
        [subscription] = await store.create_subscriptions(
            tenant_id=tenant.id,
            authenticator=api_key.id,
            specs=[
                SubscriptionSpec(
                    tracking_id=None,
                    url=URL,
                    content_type="application/json",
                    headers=(),
                    event_groups=(),
                    event_types=("task_created",),
                    secret=generate_secret(),
                    expires_at=datetime.now(UTC) + timedelta(days=30),
                )
            ],
            now=datetime.now(UTC),
        )
        start = datetime.now(UTC) - timedelta(seconds=1)
        intake = Intake(store)
        started = time.perf_counter()
        for first in range(0, rows, INGEST_BATCH):
            events = [
                _event(number, subscription.id)
                for number in range(first, min(rows, first + INGEST_BATCH))
            ]
            await intake.ingest(tenant_id=tenant.id, events=events, now=datetime.now(UTC))
            if (first + INGEST_BATCH) % PROGRESS_EVERY == 0:
                log(f"ingested {first + INGEST_BATCH:,} of {rows:,}")
        ingested = time.perf_counter()
        await _fail_all(store, rows)
        failed = time.perf_counter()
        report_id = await store.create_report(
            tenant_id=tenant.id,
            request=ReportRequest(
                start=start,
                end=datetime.now(UTC) + timedelta(seconds=1),
                webhook_types=None,
                keywords=(),
            ),
            email=None,
            callback_url=None,
            now=datetime.now(UTC),
        )
    finally:
        await store.close()
    return Seeded(
        tenant_id=tenant.id,
        report_id=report_id,
        ingest_seconds=ingested - started,
        fail_seconds=failed - ingested,
    )


Calls = list[tuple[float, float]]
"""(end time, seconds) of each timed call, in order."""


def _record(calls: Calls, started: float, progress: str) -> None:
    ended = time.perf_counter()
    calls.append((ended, ended - started))
    if progress and len(calls) % 50 == 0:
        log(f"{progress} {len(calls)}: {(ended - started) * 1000:.0f} ms")


def _timed(calls: Calls, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``method``, each call's time appended to ``calls``."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            _record(calls, started, "")

    return wrapper


def _timed_pages(
    calls: Calls, method: Callable[..., AsyncIterator[Any]]
) -> Callable[..., AsyncIterator[Any]]:
    """``method``, an async iterator of pages, with the wait for each page appended to
    ``calls`` and a line to stderr every 50 pages, so that a slow build shows its pace."""

    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        pages = method(*args, **kwargs)
        try:
            while True:
                started = time.perf_counter()
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    return
                _record(calls, started, "page")
                yield page
        finally:
            # Closes the store's query (its cursor) if the worker stops early.
            await aclose(pages)

    return wrapper


async def aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def build(database_url: str) -> dict[str, Any]:
    """In the child: build the one pending report as a worker would; figures as a dict."""
    settings = settings_for(database_url)
    store = await open_store(settings)
    sender = Sender.from_settings(settings)
    await sender.start()
    # Time spent waiting on the store, to tell database time from CSV and gzip time.
    pages: Calls = []
    writes: Calls = []
    # Instance attributes shadow the methods for this store only.
    setattr(store, "failed_deliveries", _timed_pages(pages, store.failed_deliveries))  # noqa: B010
    setattr(store, "add_report_part", _timed(writes, store.add_report_part))  # noqa: B010
    try:
        worker = ReportWorker(store, sender, settings)
        rss_before = rss_mb(os.getpid())
        started = time.perf_counter()
        worked = await worker.work_once()
        seconds = time.perf_counter() - started
    finally:
        await sender.close()
        await store.close()
    waits = [duration for _, duration in pages] or [float("nan")]
    # The lease is only extended when a part is written: the longest wait for a write
    # is how close the build came to losing the report to another worker.
    write_times = [started] + [ended for ended, _ in writes]
    return {
        "worked": worked,
        "build_seconds": seconds,
        "rss_before_mb": rss_before,
        "pages": len(pages),
        "page_wait_seconds": sum(waits),
        "first_page_ms": waits[0] * 1000,
        "median_page_ms": median(waits) * 1000,
        "last_page_ms": waits[-1] * 1000,
        "max_page_ms": max(waits) * 1000,
        "part_write_seconds": sum(duration for _, duration in writes),
        "max_seconds_between_parts": max(
            (b - a for a, b in itertools.pairwise(write_times)), default=float("nan")
        ),
        # Last, so that nothing after it adds to the peak.
        "peak_rss_mb": peak_rss_mb(os.getpid()),
    }


def run_builder(database_url: str) -> tuple[dict[str, Any], float]:
    """Build the report in a fresh interpreter; its figures and the wall time it took."""
    started = time.perf_counter()
    # The URL goes on stdin, not the command line: the PostgreSQL database's name holds
    # "waypost", and a builder was once ended by a SIGTERM from outside on this shared
    # machine, as a kill by name pattern would do.
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reports", "--build-child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        out, _ = process.communicate(database_url.encode(), timeout=BUILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"report builder exited with {process.returncode}")
    figures: dict[str, Any] = json.loads(out)
    return figures, time.perf_counter() - started


@dataclass(kw_only=True)
class Check:
    parts: int = 0
    compressed_bytes: int = 0
    csv_bytes: int = 0
    rows: int = 0
    header_ok: bool = False
    ordered: bool = True
    well_formed: bool = True
    gzip_complete: bool = False
    report_status: str = ""
    report_row_count: int | None = None


async def verify(database_url: str, tenant_id: str, report_id: str) -> Check:
    """Stream the stored parts back: sizes, and every CSV row counted and checked.

    Memory stays bounded by one part's decompressed text: rows are parsed and
    dropped a part at a time.
    """
    check = Check()
    store = await open_store(settings_for(database_url))
    try:
        report = await store.get_report(tenant_id=tenant_id, report_id=report_id)
        check.report_status = report.status
        check.report_row_count = report.row_count
        decompressor = zlib.decompressobj(wbits=31)
        # A part may end inside a multi-byte character (the orders hold "ø" and "ü").
        decoder = codecs.getincrementaldecoder("utf-8")()
        tail = ""
        last: datetime | None = None
        header_seen = False
        async for part in store.report_parts(report_id=report_id):
            check.parts += 1
            check.compressed_bytes += len(part)
            raw = decompressor.decompress(part)
            check.csv_bytes += len(raw)
            lines = (tail + decoder.decode(raw)).split("\n")
            # The last piece has no line end yet: it is completed by the next part.
            tail = lines.pop()
            # No field holds a line break (the payloads are compact JSON), so every
            # record is one line and a part's complete lines parse on their own.
            for row in csv.reader(line + "\n" for line in lines):
                if not header_seen:
                    check.header_ok = tuple(row) == COLUMNS
                    header_seen = True
                    continue
                check.rows += 1
                if len(row) != len(COLUMNS):
                    check.well_formed = False
                    continue
                # Every failure was seeded with a time of its own, so strictly increasing
                # times also mean that no row is repeated.
                failed_at = datetime.fromisoformat(row[7])
                if last is not None and failed_at <= last:
                    check.ordered = False
                last = failed_at
        rest = decompressor.flush()
        check.csv_bytes += len(rest)
        tail += decoder.decode(rest, final=True)
        check.gzip_complete = decompressor.eof and not decompressor.unused_data and not tail
    finally:
        await store.close()
    return check


def measure(kind: str, rows: int) -> dict[str, Any]:
    # database() runs its own event loop, so each phase gets an asyncio.run of its own.
    with database(kind) as url:
        log(f"{kind}: seeding {rows:,} failed deliveries")
        seeded = asyncio.run(seed(url, rows))
        log(
            f"{kind}: seeded in {seeded.ingest_seconds + seeded.fail_seconds:.1f} s; "
            "building the report"
        )
        built, wall = run_builder(url)
        log(f"{kind}: built in {built['build_seconds']:.1f} s; verifying")
        started = time.perf_counter()
        check = asyncio.run(verify(url, seeded.tenant_id, seeded.report_id))
        verify_seconds = time.perf_counter() - started
    complete = (
        built["worked"]
        and check.report_status == "ready"
        and check.report_row_count == rows
        and check.rows == rows
        and check.header_ok
        and check.ordered
        and check.well_formed
        and check.gzip_complete
    )
    return {
        "scenario": "reports",
        "system": kind,
        "rows": rows,
        "payload_bytes": PAYLOAD_BYTES,
        "seed_seconds": round(seeded.ingest_seconds + seeded.fail_seconds, 1),
        "seed_ingest_seconds": round(seeded.ingest_seconds, 1),
        "seed_fail_seconds": round(seeded.fail_seconds, 1),
        "build_seconds": round(built["build_seconds"], 2),
        "rows_per_second": round(rows / built["build_seconds"]),
        "builder_wall_seconds": round(wall, 2),
        "builder_rss_before_mb": round(built["rss_before_mb"], 1),
        "builder_peak_rss_mb": round(built["peak_rss_mb"], 1),
        "pages": built["pages"],
        "page_wait_seconds": round(built["page_wait_seconds"], 2),
        "first_page_ms": round(built["first_page_ms"], 1),
        "median_page_ms": round(built["median_page_ms"], 1),
        "last_page_ms": round(built["last_page_ms"], 1),
        "max_page_ms": round(built["max_page_ms"], 1),
        "part_write_seconds": round(built["part_write_seconds"], 2),
        "max_seconds_between_parts": round(built["max_seconds_between_parts"], 1),
        "report_parts": check.parts,
        "report_mb": round(check.compressed_bytes / 1e6, 2),
        "csv_mb": round(check.csv_bytes / 1e6, 1),
        "csv_rows": check.rows,
        "complete": complete,
        "verify_seconds": round(verify_seconds, 1),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    # Internal: the child process that builds the report; the database URL on stdin.
    parser.add_argument("--build-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        print(json.dumps(asyncio.run(build(sys.stdin.read().strip()))), flush=True)
        return
    if args.rows <= 0:
        parser.error("--rows must be positive")
    for kind in args.databases.split(","):
        print(json.dumps(measure(kind, args.rows)), flush=True)


if __name__ == "__main__":
    main()
