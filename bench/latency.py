"""Ingest-to-first-byte latency at a steady rate, beside the raw loop's request latency.

Each database: a fresh deployment (SQLite: one ``serve``; PostgreSQL: one ``api``
and two ``worker``), one subscription to the latency receiver
(``bench/receiver.py --latency``, its own process), then single
``POST /api/v1/events`` at a steady rate (open loop), each event's data a 2 KB
order stamped with ``sent_at = time.time()`` just before it is posted. The
receiver takes ``time.time()`` when a delivery's headers arrive, so latency =
arrival - sent_at on one clock. The raw loop posts the same body at the same
rate to a receiver of its own and times each round trip.

Usage: python bench/latency.py [--rates 200] [--seconds 20] [--databases sqlite,postgresql]
                               [--set NAME=VALUE ...]
Prints one JSON line for the raw loop and one per database, for each rate; progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
import httpx
import orjson
import uvloop

from bench.common import (
    DEPLOYMENTS,
    add_settings_option,
    create_tenant,
    database,
    deployment,
    order_payload,
    paced,
    percentile,
    raw_loop,
    receiver_process,
    rss_by_role,
)

JSON = {"Content-Type": "application/json"}
# waypost answers 429 past 50 requests in flight per user (WAYPOST_MAX_CONCURRENT_REQUESTS,
# Bring's limit); the sender keeps within it, as a client should, so when waypost cannot
# keep up the achieved rate falls short of the rate asked for.
MAX_IN_FLIGHT = 50
# How long deliveries may trail the last event before the rest count as missing.
DRAIN_SECONDS = 60


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spread(latencies_ms: list[float], prefix: str = "") -> dict[str, float]:
    if not latencies_ms:
        return {}
    return {
        f"{prefix}p50_ms": round(percentile(latencies_ms, 0.50), 1),
        f"{prefix}p95_ms": round(percentile(latencies_ms, 0.95), 1),
        f"{prefix}p99_ms": round(percentile(latencies_ms, 0.99), 1),
        f"{prefix}max_ms": round(max(latencies_ms), 1),
    }


async def arrivals(receiver: str, expected: int) -> list[float]:
    """The receiver's latencies, once ``expected`` have arrived or the drain time is over."""
    deadline = time.monotonic() + DRAIN_SECONDS
    async with httpx.AsyncClient(base_url=receiver) as client:
        while True:
            latencies: list[float] = (await client.get("/stats")).json()["latencies_ms"]
            if len(latencies) >= expected or time.monotonic() > deadline:
                return latencies
            await asyncio.sleep(0.2)


async def drive(
    base_url: str, api_key: str, receiver: str, rate: float, seconds: float
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    order = order_payload(0)
    ingest_ms: list[float] = []
    refused: dict[int, int] = {}
    async with aiohttp.ClientSession(base_url, headers=headers) as session:
        subscription = {
            "configuration": {"url": f"{receiver}/hooks/latency"},
            "event_types": ["task_created"],
        }
        async with session.post("/api/v1/webhooks", json=subscription) as response:
            if response.status != 201:
                raise RuntimeError(f"subscribe: {response.status} {await response.text()}")

        async def send() -> None:
            event = {"type": "task_created", "data": {**order, "sent_at": time.time()}}
            started = time.perf_counter()
            async with session.post(
                "/api/v1/events", data=orjson.dumps(event), headers=JSON
            ) as response:
                await response.read()
            if response.status == 202:
                ingest_ms.append((time.perf_counter() - started) * 1000)
            else:
                refused[response.status] = refused.get(response.status, 0) + 1

        sending = await paced(rate, seconds, send, max_in_flight=MAX_IN_FLIGHT)
    latencies = await arrivals(receiver, len(ingest_ms))
    return {
        "events": len(ingest_ms),
        "refused": refused,
        "achieved_rate": round((len(ingest_ms) + sum(refused.values())) / (sending + 1 / rate), 1),
        "received": len(latencies),
        **spread(latencies),
        **spread(ingest_ms, prefix="ingest_"),
    }


def measure(kind: str, rate: float, seconds: float, settings: dict[str, str]) -> dict[str, Any]:
    with receiver_process("--latency") as receiver, database(kind) as url:
        tenant = create_tenant(url)
        with deployment(kind, url, settings) as (base_url, processes):
            figures = uvloop.run(drive(base_url, tenant["api_key"], receiver, rate, seconds))
            figures["peak_rss_mb"] = rss_by_role(kind, processes)
    return {
        "scenario": "latency",
        "system": kind,
        "deployment": DEPLOYMENTS[kind],
        "settings": settings,
        "rate": rate,
        "seconds": seconds,
        **figures,
    }


def measure_raw(rate: float, seconds: float) -> dict[str, Any]:
    with receiver_process("--latency") as receiver:
        raw = raw_loop("--url", f"{receiver}/raw", "--rate", str(rate), "--seconds", str(seconds))
        one_way = uvloop.run(arrivals(receiver, raw["requests"] - raw["errors"]))
    return {
        "scenario": "latency",
        "system": "raw loop",
        "rate": rate,
        "seconds": seconds,
        "requests": raw["requests"],
        "errors": raw["errors"],
        "achieved_rate": raw["achieved_rate"],
        **spread(raw["latencies_ms"]),
        **spread(one_way, prefix="one_way_"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="200", help="events a second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--databases", default="sqlite,postgresql")
    add_settings_option(parser)
    args = parser.parse_args()
    settings = dict(args.set)
    for rate in [float(rate) for rate in args.rates.split(",")]:
        results = [measure_raw(rate, args.seconds)]
        for kind in args.databases.split(","):
            results.append(measure(kind, rate, args.seconds, settings))
        for result in results:
            log(f"{result['system']} at {rate:g}/s: p50 {result.get('p50_ms')} ms")
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
