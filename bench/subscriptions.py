"""Scale of state: 150,000 subscriptions, listed with limit=150000, and single lookups.

The subscriptions are seeded through the store (1,000 per transaction), not the
API. The server process's resident set is read before the first listing, and
its peak (VmHWM, reset just before the first listing) after the lookups:
listing streams, so the peak must stay close to the resident set before.

Usage: python bench/subscriptions.py [--count N] [--runs R] [--databases sqlite,postgresql]
Prints one JSON line per database with the figures; bench/run.py collects them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime

import asyncpg
import httpx

from bench.common import (
    SECRET_KEY,
    create_tenant,
    database,
    median,
    peak_rss_mb,
    percentile,
    reset_peak_rss,
    rss_mb,
    waypost,
)
from waypost.config import load_settings
from waypost.domain.models import Header, SubscriptionSpec
from waypost.domain.signing import generate_secret
from waypost.store import open_store

ANALYZE_EVERY = 10_000


async def analyze(database_url: str) -> None:
    """Refresh PostgreSQL's statistics of the subscription tables, as autovacuum would.

    The benchmark server runs with autovacuum off; without statistics the planner
    treats the tables as empty, and each create's duplicate check then reads every
    subscription of the tenant, so seeding slows down with every batch.
    """
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("ANALYZE webhooks, webhook_topics")
    finally:
        await connection.close()


async def seed(database_url: str, tenant: dict[str, str], count: int) -> float:
    """Insert ``count`` subscriptions through the store, 1,000 per transaction."""
    store = await open_store(load_settings(database_url=database_url, secret_key=SECRET_KEY))
    secret = generate_secret()
    started = time.perf_counter()
    try:
        for start in range(0, count, 1000):
            if start % ANALYZE_EVERY == 0 and store.dialect == "postgresql":
                await analyze(database_url)
            specs = [
                SubscriptionSpec(
                    tracking_id=f"PKG{number:08d}",
                    url="https://carrier.example.com/hooks/tracking",
                    content_type="application/json",
                    headers=(Header(key="Authorization", value="Bearer secret-token"),),
                    event_groups=("DELIVERED", "IN_TRANSIT"),
                    event_types=(),
                    secret=secret,
                    expires_at=datetime(2100, 1, 1, tzinfo=UTC),
                )
                for number in range(start, min(count, start + 1000))
            ]
            await store.create_subscriptions(
                tenant_id=tenant["tenant_id"],
                authenticator=tenant["api_key_id"],
                specs=specs,
                now=datetime.now(UTC),
            )
        if store.dialect == "postgresql":
            await analyze(database_url)
    finally:
        await store.close()
    return time.perf_counter() - started


def measure(kind: str, count: int, runs: int) -> dict[str, object]:
    with database(kind) as url:
        tenant = create_tenant(url)
        seconds = asyncio.run(seed(url, tenant, count))
        command = "serve" if kind == "sqlite" else "api"
        with waypost(command, url) as (base_url, process):
            headers = {"Authorization": f"Bearer {tenant['api_key']}"}
            list_times = []
            ids: list[str] = []
            rss_before = rss_mb(process.pid)
            reset_peak_rss(process.pid)
            with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
                for _ in range(runs):
                    started = time.perf_counter()
                    response = client.get(f"/api/v1/webhooks?limit={count}")
                    listed = response.json()
                    list_times.append(time.perf_counter() - started)
                    if response.status_code != 200 or len(listed) != count:
                        raise RuntimeError(f"listed {len(listed)}, status {response.status_code}")
                    ids = [item["id"] for item in listed[:: max(1, count // 1000)]]
                list_mb = len(response.content) / 1e6
                del listed
                lookups = []
                for webhook_id in ids:
                    started = time.perf_counter()
                    status = client.get(f"/api/v1/webhooks/{webhook_id}").status_code
                    if status != 200:
                        raise RuntimeError(f"lookup: {status}")
                    lookups.append((time.perf_counter() - started) * 1000)
            rss = peak_rss_mb(process.pid)
    return {
        "scenario": "subscriptions",
        "system": kind,
        "count": count,
        "seed_seconds": round(seconds, 1),
        "list_seconds_median": round(median(list_times), 3),
        "list_seconds_runs": [round(value, 3) for value in list_times],
        "list_mb": round(list_mb, 1),
        "lookup_ms_p50": round(percentile(lookups, 0.5), 2),
        "lookup_ms_p99": round(percentile(lookups, 0.99), 2),
        "lookups": len(lookups),
        "rss_before_list_mb": round(rss_before, 1),
        "peak_rss_mb": round(rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=150_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        print(json.dumps(measure(kind, args.count, args.runs)), flush=True)


if __name__ == "__main__":
    main()
