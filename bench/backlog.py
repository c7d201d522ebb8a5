"""Delivery rate with a backlog of 1,000,000 pending deliveries, and the memory it takes.

Per database: a fresh database with ``--subscriptions`` subscriptions to the fast
receiver (each its own URL) and ``--backlog`` pending deliveries, due now, of a
512-byte JSON payload. The backlog is seeded before any waypost process starts:
a sixteenth through the intake (``Intake.ingest``, 20,000 deliveries a
transaction, as ingest writes them), then doubled four times inside the database
(``bench.common.copy_pending``: each pending delivery copied with a fresh id).
Then the deployment starts (SQLite: one ``serve``; PostgreSQL: one ``api`` and
two ``worker``) and the dispatcher works the backlog; the window starts once
every process is ready and ends after ``--seconds`` or ``--deliveries``
attempts, whichever comes first (or once the whole backlog is attempted).
Rate = attempts recorded in the window / its seconds (polled every 0.25 s).
Peak RSS (VmHWM) of every waypost process, from readiness, is read at the end
of the window; the backlog is not drained.

Usage: python bench/backlog.py [--backlog N] [--seconds S] [--deliveries N]
                               [--databases sqlite,postgresql]
Prints one JSON line per database; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench.common import (
    DEPLOYMENTS,
    SYSTEMS,
    copy_pending,
    count,
    create_tenant,
    database,
    deployment,
    fast_receiver,
    log,
    opened_store,
    reader,
    rss_by_role,
    seed_pending,
    seed_subscriptions,
    webhook_spec,
)

DOUBLINGS = 4
PAYLOAD_BYTES = 512
POLL_SECONDS = 0.25
ATTEMPTS = "SELECT count(*) FROM attempts"
PENDING = "SELECT count(*) FROM deliveries WHERE status = 'pending'"
DELIVERED = "SELECT count(*) FROM deliveries WHERE status = 'delivered'"


def seed(url: str, tenant: dict[str, str], receiver: str, subscriptions: int, backlog: int) -> int:
    """Subscriptions and ``backlog`` pending deliveries (rounded up to whole events)."""
    base_events = -(-backlog // (subscriptions * 2**DOUBLINGS))

    async def through_store() -> int:
        async with opened_store(url) as store:
            specs = [webhook_spec(f"{receiver}/backlog/{n}") for n in range(subscriptions)]
            ids = await seed_subscriptions(store, tenant, specs)
            return await seed_pending(
                store, tenant["tenant_id"], ids, base_events, payload_bytes=PAYLOAD_BYTES
            )

    seeded = asyncio.run(through_store())
    for _ in range(DOUBLINGS):
        seeded += copy_pending(url)
    return seeded


async def window(url: str, seconds: float, deliveries: int, backlog: int) -> dict[str, Any]:
    async with reader(url) as query:
        before = await count(query, ATTEMPTS)
        started = time.perf_counter()
        attempts = 0
        while time.perf_counter() - started < seconds:
            await asyncio.sleep(POLL_SECONDS)
            attempts = await count(query, ATTEMPTS) - before
            if attempts >= deliveries or before + attempts >= backlog:
                break
        elapsed = time.perf_counter() - started
        return {
            "window_seconds": round(elapsed, 1),
            "attempts_before_window": before,
            "attempts": attempts,
            "per_second": round(attempts / elapsed),
            "delivered_total": await count(query, DELIVERED),
            "pending_after": await count(query, PENDING),
        }


def measure(
    system: str, receiver: str, subscriptions: int, backlog: int, seconds: float, deliveries: int
) -> dict[str, Any]:
    kind, settings = SYSTEMS[system]
    with database(kind) as url:
        tenant = create_tenant(url)
        started = time.perf_counter()
        seeded = seed(url, tenant, receiver, subscriptions, backlog)
        seed_seconds = time.perf_counter() - started
        log(f"  {seeded:,} pending deliveries seeded in {seed_seconds:.1f} s")
        with deployment(kind, url, settings) as (_base_url, processes):
            figures = asyncio.run(window(url, seconds, deliveries, seeded))
            rss = rss_by_role(kind, processes)
    log(f"  {figures['attempts']:,} attempts in {figures['window_seconds']} s")
    return {
        "scenario": "backlog",
        "system": system,
        "deployment": DEPLOYMENTS[system],
        "subscriptions": subscriptions,
        "backlog": seeded,
        "payload_bytes": PAYLOAD_BYTES,
        "seed_seconds": round(seed_seconds, 1),
        "max_seconds": seconds,
        "max_deliveries": deliveries,
        **figures,
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with fast_receiver() as (receiver, _name):
        for system in args.databases.split(","):
            log(f"backlog on {system}")
            result = measure(
                system, receiver, args.subscriptions, args.backlog, args.seconds, args.deliveries
            )
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
