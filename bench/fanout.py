"""Fan-out: one event to 10,000 matching subscriptions.

Per database: a fresh database with ``--subscriptions`` subscriptions to
``task_created``, each its own URL on the fast receiver: the first created
through the store, the others copies of it made in the database
(``bench.common.copy_subscription``; the API would only add minutes),
then a deployment (SQLite: one ``serve``; PostgreSQL: one ``api`` and two
``worker``). Each of ``--runs`` rounds posts one event (a 2 KB order) to
``POST /api/v1/events`` and measures
- the time to the 202 (routing and storing one delivery per subscription), and
- the time from the post until the database shows all of that event's
  deliveries delivered (polled every 0.05 s, bounded by ``DEADLINE_SECONDS``),
  and the resulting deliveries/s, to compare with the sustained rate.

Usage: python bench/fanout.py [--subscriptions N] [--runs R] [--databases sqlite,postgresql]
Prints one JSON line per database (medians over the rounds); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
import orjson

from bench.common import (
    DEPLOYMENTS,
    SYSTEMS,
    Query,
    copy_subscription,
    count,
    create_tenant,
    database,
    deployment,
    fast_receiver,
    log,
    median,
    opened_store,
    order_payload,
    reader,
    rss_by_role,
    seed_subscriptions,
    webhook_spec,
)

JSON = {"Content-Type": "application/json"}
POLL_SECONDS = 0.05
DEADLINE_SECONDS = 300
DELIVERED = "SELECT count(*) FROM deliveries WHERE status = 'delivered'"


def seed(url: str, tenant: dict[str, str], receiver: str, subscriptions: int) -> float:
    started = time.perf_counter()
    urls = [f"{receiver}/fanout/{number}" for number in range(subscriptions)]

    async def first() -> None:
        async with opened_store(url) as store:
            await seed_subscriptions(store, tenant, [webhook_spec(urls[0])])

    asyncio.run(first())
    copy_subscription(url, urls[0], urls[1:])
    return time.perf_counter() - started


async def one_round(
    client: httpx.AsyncClient, query: Query, body: bytes, subscriptions: int
) -> dict[str, float]:
    before = await count(query, DELIVERED)
    started = time.perf_counter()
    response = await client.post("/api/v1/events", content=body, headers=JSON)
    accepted = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"event: {response.status_code} {response.text[:300]}")
    delivered = 0
    while time.perf_counter() - started < DEADLINE_SECONDS:
        delivered = await count(query, DELIVERED) - before
        if delivered >= subscriptions:
            break
        await asyncio.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    return {
        "accepted_ms": accepted * 1000,
        "seconds": seconds,
        "delivered": delivered,
        "per_second": delivered / seconds,
    }


async def drive(
    base_url: str, api_key: str, url: str, subscriptions: int, runs: int
) -> list[dict[str, float]]:
    headers = {"Authorization": f"Bearer {api_key}"}
    results = []
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client,
        reader(url) as query,
    ):
        for number in range(runs):
            body = orjson.dumps({"type": "task_created", "data": order_payload(number)})
            result = await one_round(client, query, body, subscriptions)
            log(
                f"  round {number + 1}: 202 in {result['accepted_ms']:.0f} ms, "
                f"{result['delivered']:,.0f} delivered in {result['seconds']:.1f} s"
            )
            results.append(result)
    return results


def measure(system: str, receiver: str, subscriptions: int, runs: int) -> dict[str, Any]:
    kind, settings = SYSTEMS[system]
    with database(kind) as url:
        tenant = create_tenant(url)
        seed_seconds = seed(url, tenant, receiver, subscriptions)
        log(f"  {subscriptions:,} subscriptions seeded in {seed_seconds:.1f} s")
        with deployment(kind, url, settings) as (base_url, processes):
            results = asyncio.run(drive(base_url, tenant["api_key"], url, subscriptions, runs))
            rss = rss_by_role(kind, processes)
    return {
        "scenario": "fanout",
        "system": system,
        "deployment": DEPLOYMENTS[system],
        "subscriptions": subscriptions,
        "runs": runs,
        "seed_seconds": round(seed_seconds, 1),
        "accepted_ms_median": round(median([r["accepted_ms"] for r in results]), 1),
        "accepted_ms_runs": [round(r["accepted_ms"], 1) for r in results],
        "all_delivered_seconds_median": round(median([r["seconds"] for r in results]), 2),
        "all_delivered_seconds_runs": [round(r["seconds"], 2) for r in results],
        "per_second_median": round(median([r["per_second"] for r in results])),
        "all_delivered": all(r["delivered"] == subscriptions for r in results),
        "delivered_runs": [int(r["delivered"]) for r in results],
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with fast_receiver() as (receiver, _name):
        for system in args.databases.split(","):
            log(f"fan-out on {system}")
            print(json.dumps(measure(system, receiver, args.subscriptions, args.runs)), flush=True)


if __name__ == "__main__":
    main()
