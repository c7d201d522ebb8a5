"""Routing alone: how fast events find their subscriptions, and whether it stays flat.

One tenant; 1,000 subscriptions receive every ``task_created`` event, each with a
filter (``fleet_id eq 2899``) and a field selection. Beside them grow
subscriptions the routing index excludes (other parcels' Event Cast
subscriptions on the same type): 1,000, then 10,000, then 99,000 (100,000 in
all, 1 % matching). A last step adds 5,000 subscriptions on the same type whose
filter does not match, which the index cannot exclude: their filters are
evaluated per event, and that cost is reported too.

Routing is what ingest does before writing: look the tenant's types up, read
the candidates through the (tenant, topic, tracking key) index, and plan one
shaped body per receiving subscription. Nothing is written per event.

Usage: python bench/routing.py [--events N] [--databases sqlite,postgresql]
Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.common import SECRET_KEY, database
from waypost.config import load_settings
from waypost.domain.catalog import EVENT_TYPES
from waypost.domain.signing import generate_secret
from waypost.ingest import EventInput, route
from waypost.store import Store, open_store
from waypost.store.models import SubscriptionSpec

MATCHING = 1_000
EXCLUDED_STEPS = (1_000, 10_000, 99_000)
FILTERED_OUT = 5_000
FIELDS = ("id", "external_id", "fleet_id", "way_points[*].address", "customer.name")
EXPIRY = datetime(2100, 1, 1, tzinfo=UTC)


def spec(url: str, *, tracking_id: str | None = None, fleet_id: int = 2899) -> SubscriptionSpec:
    return SubscriptionSpec(
        tracking_id=tracking_id,
        url=url,
        content_type="application/json",
        headers=(),
        event_groups=(),
        event_types=("task_created",),
        filters=({"field": "fleet_id", "op": "eq", "value": fleet_id},),
        fields=FIELDS,
        secret=generate_secret(),
        expires_at=EXPIRY,
    )


async def add(store: Store, tenant_id: str, specs: Sequence[SubscriptionSpec]) -> None:
    await store.create_subscriptions(
        tenant_id=tenant_id, authenticator="bench", specs=specs, now=datetime.now(UTC)
    )


async def add_excluded(store: Store, tenant_id: str, start: int, stop: int) -> None:
    """Other parcels' subscriptions: same url and type, so 1,000 go in one call."""
    for first in range(start, stop, 1000):
        specs = [
            spec("https://carrier.example.com/track", tracking_id=f"PKG{number:08d}")
            for number in range(first, min(stop, first + 1000))
        ]
        await add(store, tenant_id, specs)


async def measure(store: Store, tenant_id: str, events: int) -> dict[str, float]:
    data = EVENT_TYPES["task_created"].example_copy()
    data["fleet_id"] = 2899
    item = EventInput(type="task_created", data=data)
    await route(store, tenant_id, [item], datetime.now(UTC))  # warm caches and compiled filters
    started = time.perf_counter()
    planned = 0
    for _ in range(events):
        [event] = await route(store, tenant_id, [item], datetime.now(UTC))
        planned = len(event.deliveries)
    elapsed = time.perf_counter() - started
    return {
        "events_per_s": round(events / elapsed, 1),
        "ms_per_event": round(elapsed / events * 1000, 2),
        "deliveries_per_event": planned,
    }


async def run(kind: str, url: str, events: int) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    store = await open_store(
        load_settings(database_url=url, secret_key=SECRET_KEY), run_migrations=True
    )
    try:
        tenant, _user, _key = await store.create_tenant(
            name="bench",
            email="bench@example.com",
            password_hash="x",
            key_prefix="wp_benchbench",
            key_digest="0" * 64,
            now=datetime.now(UTC),
        )
        for number in range(MATCHING):
            await add(store, tenant.id, [spec(f"https://oms{number}.example.com/hook")])
        excluded = 0
        for target in EXCLUDED_STEPS:
            await add_excluded(store, tenant.id, excluded, target)
            excluded = target
            figures = await measure(store, tenant.id, events)
            results.append(
                {
                    "database": kind,
                    "subscriptions": MATCHING + excluded,
                    "matching": MATCHING,
                    "excluded_by_index": excluded,
                    "excluded_by_filter": 0,
                    **figures,
                }
            )
        for number in range(FILTERED_OUT):
            await add(store, tenant.id, [spec(f"https://rival{number}.example.com/h", fleet_id=1)])
        figures = await measure(store, tenant.id, events)
        results.append(
            {
                "database": kind,
                "subscriptions": MATCHING + excluded + FILTERED_OUT,
                "matching": MATCHING,
                "excluded_by_index": excluded,
                "excluded_by_filter": FILTERED_OUT,
                **figures,
            }
        )
    finally:
        await store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        with database(kind) as url:
            for result in asyncio.run(run(kind, url, args.events)):
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
