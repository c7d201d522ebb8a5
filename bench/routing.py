"""Routing with 1,000 vs 100,000 non-matching subscriptions: events/s must stay within 20 %.

One tenant; ``--matching`` subscriptions (5, as in scenario 1) receive every
``task_created`` event, each with a filter (``fleet_id eq 2899``) and a field
selection. Beside them, non-matching subscriptions: other parcels' Event Cast
subscriptions on the same type (a tracking id of their own), which the routing
index excludes; first 1,000, then 100,000 (``--non-matching``). The events/s
at the largest count over the events/s at the smallest is the figure the target
is about (at least 0.8). A last step adds ``--filtered`` subscriptions on the
same type whose filter does not match (``fleet_id eq 1``): the index cannot
exclude them, their filters are evaluated per event, and that cost is shown too.

Routing is what ingest does before writing (``waypost.services.ingest.route``): look the
tenant's types up, read the candidates through the (tenant, topic, tracking
key) index, and plan one shaped body per receiving subscription. It runs here
in-process on waypost's store, one event at a time, ``--events`` events or
``--round-seconds`` per round, whichever ends first, ``--runs`` rounds per step
(median). Nothing is written per event. The
subscriptions are seeded through the store (1,000 of a url per transaction;
the distinct-url ones copied in the database, ``bench.common.copy_subscription``).

Usage: python bench/routing.py [--events N] [--round-seconds S] [--runs R] [--matching N]
                               [--non-matching 1000,100000] [--filtered N]
                               [--databases sqlite,postgresql]
Prints one JSON line per database; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.common import (
    copy_subscription,
    create_tenant,
    database,
    log,
    median,
    opened_store,
    seed_subscriptions,
    webhook_spec,
)
from waypost.domain.catalog import EVENT_TYPES
from waypost.services.ingest import EventInput, route
from waypost.store import Store

FIELDS = ("id", "external_id", "fleet_id", "way_points[*].address", "customer.name")
FLEET = {"field": "fleet_id", "op": "eq", "value": 2899}
OTHER_FLEET = {"field": "fleet_id", "op": "eq", "value": 1}
TRACKING_URL = "https://carrier.example.com/track"


async def add_excluded(store: Store, tenant: dict[str, str], start: int, stop: int) -> None:
    """Other parcels' subscriptions: one url and type, so 1,000 go in one transaction."""
    specs = [
        webhook_spec(TRACKING_URL, tracking_id=f"PKG{number:08d}", filters=(FLEET,), fields=FIELDS)
        for number in range(start, stop)
    ]
    await seed_subscriptions(store, tenant, specs)


async def analyze(store: Store, url: str) -> None:
    """PostgreSQL's statistics after a large seed, as autovacuum would refresh them
    (the benchmark server runs with autovacuum off)."""
    if store.dialect == "postgresql":
        connection = await asyncpg.connect(url)
        try:
            await connection.execute("ANALYZE webhooks, webhook_topics")
        finally:
            await connection.close()


async def measure(
    store: Store, tenant_id: str, events: int, runs: int, seconds: float
) -> dict[str, Any]:
    data = EVENT_TYPES["task_created"].example_copy()
    data["fleet_id"] = 2899
    item = EventInput(type="task_created", data=data)
    await route(store, tenant_id, [item], datetime.now(UTC))  # warm caches and compiled filters
    rates = []
    planned = 0
    for _ in range(runs):
        started = time.perf_counter()
        routed = 0
        while routed < events and time.perf_counter() - started < seconds:
            [event] = await route(store, tenant_id, [item], datetime.now(UTC))
            planned = len(event.deliveries)
            routed += 1
        rates.append(routed / (time.perf_counter() - started))
    rate = median(rates)
    return {
        "events_per_second_median": round(rate, 1),
        "events_per_second_runs": [round(value, 1) for value in rates],
        "ms_per_event": round(1000 / rate, 2),
        "deliveries_per_event": planned,
    }


async def steps(kind: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    tenant = await asyncio.to_thread(create_tenant, url)
    results: list[dict[str, Any]] = []
    async with opened_store(url) as store:
        matching = [
            webhook_spec(f"https://oms{n}.example.com/hook", filters=(FLEET,), fields=FIELDS)
            for n in range(args.matching)
        ]
        await seed_subscriptions(store, tenant, matching)
        excluded = 0
        for target in args.non_matching:
            await add_excluded(store, tenant, excluded, target)
            excluded = target
            await analyze(store, url)
            figures = await measure(
                store, tenant["tenant_id"], args.events, args.runs, args.round_seconds
            )
            log(f"  {kind}: {excluded:,} non-matching, {figures['events_per_second_median']}/s")
            results.append({"non_matching": excluded, "excluded_by_filter": 0, **figures})
        if args.filtered:
            urls = [f"https://rival{n}.example.com/h" for n in range(args.filtered)]
            spec = webhook_spec(urls[0], filters=(OTHER_FLEET,), fields=FIELDS)
            await seed_subscriptions(store, tenant, [spec])
            await asyncio.to_thread(copy_subscription, url, urls[0], urls[1:])
            await analyze(store, url)
            figures = await measure(
                store, tenant["tenant_id"], args.events, args.runs, args.round_seconds
            )
            rate = figures["events_per_second_median"]
            log(f"  {kind}: +{args.filtered:,} filtered out, {rate}/s")
            results.append(
                {"non_matching": excluded + args.filtered, "excluded_by_filter": args.filtered}
                | figures
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000, help="events per round")
    parser.add_argument("--round-seconds", type=float, default=3, help="bound on a round")
    parser.add_argument("--runs", type=int, default=3, help="rounds per step")
    parser.add_argument("--matching", type=int, default=5)
    parser.add_argument(
        "--non-matching",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1_000, 100_000],
        help="increasing counts of non-matching subscriptions, comma-separated",
    )
    parser.add_argument("--filtered", type=int, default=1_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        with database(kind) as url:
            results = asyncio.run(steps(kind, url, args))
        index_steps = [step for step in results if not step["excluded_by_filter"]]
        ratio = (
            index_steps[-1]["events_per_second_median"] / index_steps[0]["events_per_second_median"]
        )
        print(
            json.dumps(
                {
                    "scenario": "routing",
                    "system": kind,
                    "matching": args.matching,
                    "events_per_round": args.events,
                    "round_seconds": args.round_seconds,
                    "runs": args.runs,
                    "steps": results,
                    "ratio_largest_to_smallest": round(ratio, 3),
                    "within_20_percent": ratio >= 0.8,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
