"""Sustained delivery throughput: N events x 5 subscriptions, beside a raw aiohttp loop.

Each run: a fresh database and waypost deployment (SQLite: one ``serve``;
PostgreSQL: one ``api`` and two ``worker``), five subscriptions to a fast local
receiver, the events (2 KB orders) posted through the batch endpoint, 1,000 at
a time. Throughput is deliveries recorded as delivered per second, from the
first ingest request to the moment the database shows every delivery
attempted (polled every 0.1 s). In the same run, the raw loop
(``bench/rawloop.py``: one process, one ClientSession, 16 concurrent, nothing
persisted) posts the same 2 KB body to the same receiver as many times.

``--databases`` may name ``sqlite`` (WAL, ``synchronous=NORMAL``, the default),
``sqlite-full`` (``WAYPOST_SQLITE_SYNCHRONOUS=FULL``) and ``postgresql``. The
peak resident set of every waypost process is kept per run; the line gives the
largest per process role over the runs.

``--tracing on`` runs waypost with traces exported (``OTEL_EXPORTER_OTLP_ENDPOINT``) to a
local collector that discards them (``bench/otlp_sink.py``); ``--tracing both`` runs
each database without and then with tracing, back to back within every run, and
prints a line for each (``"tracing": "off" | "on"``). Metrics are always on.

Usage: python bench/delivery.py [--events N] [--runs R]
                                [--databases sqlite,sqlite-full,postgresql] [--set NAME=VALUE ...]
                                [--tracing off|on|both]
Prints one JSON line for the raw loop and one per database (medians over the runs);
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from contextlib import ExitStack
from typing import Any

import httpx

from bench.common import (
    DEPLOYMENTS,
    SYSTEMS,
    add_settings_option,
    batch_bodies,
    cpu_seconds,
    create_tenant,
    database,
    deployment,
    fast_receiver,
    log,
    max_by_key,
    median,
    otlp_collector,
    post_batches,
    raw_loop,
    reader,
    rss_by_role,
    tracing_to,
)

SUBSCRIPTIONS = 5
RAW_CONCURRENCY = 16
POLL_SECONDS = 0.1
# A run that has not finished by then is reported with what was delivered.
DEADLINE_SECONDS = 600
# Every delivery has had its first attempt recorded once none is left in this count.
UNATTEMPTED = "SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempt_count = 0"
STATUSES = "SELECT status, count(*) FROM deliveries GROUP BY status"
ATTEMPTS = "SELECT count(*) FROM attempts"


async def drive(
    base_url: str, api_key: str, database_url: str, receiver: str, bodies: list[bytes]
) -> dict[str, Any]:
    """Subscribe, ingest every batch, and wait until every delivery has been attempted."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=300) as client:
        for number in range(SUBSCRIPTIONS):
            response = await client.post(
                "/api/v1/webhooks",
                json={
                    "configuration": {"url": f"{receiver}/hooks/{number}"},
                    "event_types": ["task_created"],
                },
            )
            if response.status_code != 201:
                raise RuntimeError(f"subscribe: {response.status_code} {response.text}")
        async with reader(database_url) as query:
            started = time.perf_counter()
            await post_batches(client, bodies)
            ingested = time.perf_counter()
            while (await query(UNATTEMPTED))[0][0] > 0:
                if time.perf_counter() - started > DEADLINE_SECONDS:
                    log(f"  deadline of {DEADLINE_SECONDS} s reached")
                    break
                await asyncio.sleep(POLL_SECONDS)
            finished = time.perf_counter()
            statuses = {str(status): int(count) for status, count in await query(STATUSES)}
            attempts = int((await query(ATTEMPTS))[0][0])
    return {
        "seconds": finished - started,
        "ingest_seconds": ingested - started,
        "statuses": statuses,
        "attempts": attempts,
    }


def measure(
    system: str, receiver: str, bodies: list[bytes], events: int, settings: dict[str, str]
) -> dict[str, Any]:
    """One run on a fresh database and deployment."""
    kind, implied = SYSTEMS[system]
    with database(kind) as url:
        tenant = create_tenant(url)
        with deployment(kind, url, {**implied, **settings}) as (base_url, processes):
            cpu_before = sum(cpu_seconds(process.pid) for process in processes)
            figures = asyncio.run(drive(base_url, tenant["api_key"], url, receiver, bodies))
            cpu = sum(cpu_seconds(process.pid) for process in processes) - cpu_before
            figures["peak_rss_mb"] = rss_by_role(kind, processes)
    delivered = figures["statuses"].get("delivered", 0)
    return {
        **figures,
        "delivered": delivered,
        "per_second": delivered / figures["seconds"],
        "ingest_per_second": events / figures["ingest_seconds"],
        "cpu_ms_per_delivery": cpu * 1000 / max(1, delivered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--tracing", choices=["off", "on", "both"], default="off")
    add_settings_option(parser)
    args = parser.parse_args()
    settings = dict(args.set)
    modes = ["off", "on"] if args.tracing == "both" else [args.tracing]
    kinds = [f"{kind}/{mode}" for kind in args.databases.split(",") for mode in modes]
    expected = args.events * SUBSCRIPTIONS
    bodies = batch_bodies(args.events)
    raw_rates: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    with ExitStack() as stack:
        receiver, receiver_name = stack.enter_context(fast_receiver())
        collector = stack.enter_context(otlp_collector()) if "on" in modes else None
        log(f"receiver: {receiver_name}")
        for run in range(1, args.runs + 1):
            raw = raw_loop(
                "--url",
                f"{receiver}/raw",
                "--requests",
                str(expected),
                "--concurrency",
                str(RAW_CONCURRENCY),
            )
            if raw["errors"]:
                raise RuntimeError(f"raw loop: {raw}")
            raw_rates.append(raw["per_second"])
            log(f"run {run}: raw loop {raw['per_second']:.0f}/s")
            for kind in kinds:
                system, mode = kind.split("/")
                with tracing_to(collector if mode == "on" else None):
                    result = measure(system, receiver, bodies, args.events, settings)
                runs[kind].append(result)
                log(
                    f"run {run}: {kind} {result['per_second']:.0f}/s, "
                    f"{result['delivered']}/{expected} delivered in {result['seconds']:.1f} s, "
                    f"statuses {result['statuses']}, attempts {result['attempts']}"
                )
        if collector is not None:
            log(f"collector received {httpx.get(collector + '/stats').text}")
    raw_median = median(raw_rates)
    print(
        json.dumps(
            {
                "scenario": "delivery",
                "system": "raw loop",
                "receiver": receiver_name,
                "requests": expected,
                "concurrency": RAW_CONCURRENCY,
                "per_second_median": round(raw_median),
                "per_second_runs": [round(rate) for rate in raw_rates],
            }
        ),
        flush=True,
    )
    for kind in kinds:
        results = runs[kind]
        system, mode = kind.split("/")
        rate = median([result["per_second"] for result in results])
        print(
            json.dumps(
                {
                    "scenario": "delivery",
                    "system": system,
                    "tracing": mode,
                    "deployment": DEPLOYMENTS[system],
                    "settings": {**SYSTEMS[system][1], **settings},
                    "events": args.events,
                    "subscriptions": SUBSCRIPTIONS,
                    "deliveries": expected,
                    "all_delivered": all(r["delivered"] == expected for r in results),
                    "attempts_runs": [r["attempts"] for r in results],
                    "per_second_median": round(rate),
                    "per_second_runs": [round(r["per_second"]) for r in results],
                    "ratio_to_raw": round(rate / raw_median, 3),
                    "seconds_runs": [round(r["seconds"], 1) for r in results],
                    "ingest_events_per_second_median": round(
                        median([r["ingest_per_second"] for r in results])
                    ),
                    "cpu_ms_per_delivery_median": round(
                        median([r["cpu_ms_per_delivery"] for r in results]), 2
                    ),
                    "peak_rss_mb": max_by_key([r["peak_rss_mb"] for r in results]),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
