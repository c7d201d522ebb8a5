"""Failure mix: 10 % of subscriptions answer 503 and 5 % time out; the healthy 85 %'s rate.

Per database and run: a fresh database and deployment (SQLite: one ``serve``;
PostgreSQL: one ``api`` and two ``worker``) with ``--subscriptions``
subscriptions to ``task_created`` (20 by default): 85 % to the fast receiver
(200), 10 % to its ``/fail/`` path (503 at once), 5 % to a receiver that
waits ``SLOW_SECONDS`` (10 s) before answering, far beyond waypost's request
timeout, which is set to ``REQUEST_TIMEOUT`` (2 s,
``WAYPOST_REQUEST_TIMEOUT``). Retries come 1 s apart
(``WAYPOST_RETRY_DELAYS=1,1,1``), so every failing delivery is tried four
times while the healthy ones are sent, the harshest mix for them. The events
(2 KB orders) are posted 1,000 per call to ``POST /api/v1/events/batch``.

Measured: healthy deliveries/s, from the first ingest request until the
database shows every healthy delivery delivered (polled every 0.1 s, bounded
by ``DEADLINE_SECONDS``); the 503 and slow deliveries are not waited for.
``bench/run.py`` divides it by scenario 1's rate on the same database in the
same invocation (target: at least 80 %).

Usage: python bench/failures.py [--events N] [--subscriptions N] [--runs R]
                                [--databases sqlite,postgresql]
Prints one JSON line per database (medians over the runs); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from bench.common import (
    DEPLOYMENTS,
    SYSTEMS,
    batch_bodies,
    count,
    create_tenant,
    database,
    deployment,
    fast_receiver,
    log,
    max_by_key,
    median,
    post_batches,
    reader,
    receiver_process,
    rss_by_role,
)

FAILING_SHARE = 0.10
SLOW_SHARE = 0.05
SLOW_SECONDS = 10
REQUEST_TIMEOUT = 2
RETRY_DELAYS = "1,1,1"
POLL_SECONDS = 0.1
DEADLINE_SECONDS = 300
DELIVERED = "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
ATTEMPT_CODES = "SELECT status_code, count(*) FROM attempts GROUP BY status_code"


def targets(subscriptions: int, fast: str, slow: str) -> dict[str, list[str]]:
    """The subscription URLs by kind: healthy, failing (503) and slow (time out)."""
    failing = round(subscriptions * FAILING_SHARE)
    timing_out = max(1, round(subscriptions * SLOW_SHARE))
    healthy = subscriptions - failing - timing_out
    return {
        "healthy": [f"{fast}/ok/{n}" for n in range(healthy)],
        "failing": [f"{fast}/fail/{n}" for n in range(failing)],
        "slow": [f"{slow}/slow/{n}" for n in range(timing_out)],
    }


async def drive(
    base_url: str,
    api_key: str,
    url: str,
    urls: dict[str, list[str]],
    bodies: list[bytes],
    events: int,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    expected = events * len(urls["healthy"])
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=300) as client:
        for target in [target for kind in urls.values() for target in kind]:
            response = await client.post(
                "/api/v1/webhooks",
                json={"configuration": {"url": target}, "event_types": ["task_created"]},
            )
            if response.status_code != 201:
                raise RuntimeError(f"subscribe: {response.status_code} {response.text}")
        async with reader(url) as query:
            started = time.perf_counter()
            await post_batches(client, bodies)
            delivered = 0
            while time.perf_counter() - started < DEADLINE_SECONDS:
                delivered = await count(query, DELIVERED)
                if delivered >= expected:
                    break
                await asyncio.sleep(POLL_SECONDS)
            seconds = time.perf_counter() - started
            codes = {str(code): int(n) for code, n in await query(ATTEMPT_CODES)}
    return {
        "events": events,
        "healthy_expected": expected,
        "healthy_delivered": delivered,
        "seconds": seconds,
        "per_second": delivered / seconds,
        "attempts_by_status_code": codes,
    }


def measure(system: str, fast: str, slow: str, subscriptions: int, events: int) -> dict[str, Any]:
    kind, implied = SYSTEMS[system]
    settings = {**implied, "request_timeout": str(REQUEST_TIMEOUT), "retry_delays": RETRY_DELAYS}
    urls = targets(subscriptions, fast, slow)
    bodies = batch_bodies(events)
    with database(kind) as url:
        tenant = create_tenant(url)
        with deployment(kind, url, settings) as (base_url, processes):
            figures = asyncio.run(drive(base_url, tenant["api_key"], url, urls, bodies, events))
            figures["peak_rss_mb"] = rss_by_role(kind, processes)
    return {**figures, "counts": {kind: len(values) for kind, values in urls.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with (
        fast_receiver() as (fast, _name),
        receiver_process("--sleep", str(SLOW_SECONDS)) as slow,
    ):
        for system in args.databases.split(","):
            results = []
            for run in range(1, args.runs + 1):
                result = measure(system, fast, slow, args.subscriptions, args.events)
                log(
                    f"failure mix on {system}, run {run}: {result['per_second']:,.0f} healthy/s, "
                    f"{result['healthy_delivered']:,} of {result['healthy_expected']:,} in "
                    f"{result['seconds']:.1f} s; attempts {result['attempts_by_status_code']}"
                )
                results.append(result)
            print(
                json.dumps(
                    {
                        "scenario": "failures",
                        "system": system,
                        "deployment": DEPLOYMENTS[system],
                        "settings": {
                            "request_timeout": REQUEST_TIMEOUT,
                            "retry_delays": RETRY_DELAYS,
                        },
                        "slow_receiver_seconds": SLOW_SECONDS,
                        "subscriptions": results[0]["counts"],
                        "events": results[0]["events"],
                        "healthy_deliveries": results[0]["healthy_expected"],
                        "all_healthy_delivered": all(
                            r["healthy_delivered"] == r["healthy_expected"] for r in results
                        ),
                        "healthy_per_second_median": round(
                            median([r["per_second"] for r in results])
                        ),
                        "healthy_per_second_runs": [round(r["per_second"]) for r in results],
                        "seconds_runs": [round(r["seconds"], 1) for r in results],
                        "attempts_by_status_code": [r["attempts_by_status_code"] for r in results],
                        "peak_rss_mb": max_by_key([r["peak_rss_mb"] for r in results]),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
