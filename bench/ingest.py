"""Ingest: events/s accepted durably through the batch and the single-event endpoints.

Per database, one deployment (SQLite: one ``serve``; PostgreSQL: one ``api`` and
two ``worker``) with one subscription to the fast receiver, so the dispatcher is
running and delivering each accepted event while ingest is measured, as in
production. Then, ``--runs`` rounds of:
- batch: ``--batch-events`` events (2 KB orders) posted to
  ``POST /api/v1/events/batch``, 1,000 per call, by ``--batch-clients``
  concurrent clients; events/s from the first request to the last 202;
- then a wait until the dispatcher has sent what the batches left pending;
- single: ``POST /api/v1/events`` by ``--single-clients`` concurrent clients,
  one event per request, until ``--single-requests`` are sent or
  ``--single-seconds`` have passed; 202s per second.
Bodies are serialised before the clock starts; the client is one aiohttp
session in this process (it shares the cores with waypost). waypost answers
202 once the event and its deliveries are committed, so each 202 is durable;
at the end the database's event count must equal the 202s. The per-tenant
rate limit is raised out of the way (``bench.common.env``), and the single
clients stay within the per-user limit of concurrent requests (50).

Usage: python bench/ingest.py [--runs R] [--batch-events N] [--single-requests N]
                              [--databases sqlite,postgresql]
Prints one JSON line per database (medians over the rounds); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp
import orjson
import uvloop

from bench.common import (
    DEPLOYMENTS,
    INGEST_BATCH,
    SYSTEMS,
    count,
    create_tenant,
    database,
    deployment,
    fast_receiver,
    log,
    median,
    order_payload,
    reader,
    rss_by_role,
)

BATCH = INGEST_BATCH
JSON = {"Content-Type": "application/json"}
# Bounds each phase, whatever the server does.
PHASE_DEADLINE_SECONDS = 300
PENDING = "SELECT count(*) FROM deliveries WHERE status = 'pending'"


async def batch_phase(
    session: aiohttp.ClientSession, bodies: list[bytes], clients: int
) -> tuple[int, float]:
    """Post every body by ``clients`` concurrent loops; (events accepted, seconds)."""
    queue = list(reversed(bodies))
    accepted = 0
    deadline = time.monotonic() + PHASE_DEADLINE_SECONDS

    async def loop() -> None:
        nonlocal accepted
        while queue and time.monotonic() < deadline:
            body = queue.pop()
            async with session.post("/api/v1/events/batch", data=body, headers=JSON) as response:
                answer = await response.read()
                if response.status != 202:
                    raise RuntimeError(f"batch: {response.status} {answer[:300]!r}")
                accepted += len(orjson.loads(answer)["ids"])

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return accepted, time.perf_counter() - started


async def single_phase(
    session: aiohttp.ClientSession, body: bytes, clients: int, requests: int, seconds: float
) -> tuple[int, int, float]:
    """Single-event posts by ``clients`` loops until ``requests`` or ``seconds``;
    (202s, other answers, seconds)."""
    remaining = requests
    accepted = refused = 0
    deadline = time.monotonic() + min(seconds, PHASE_DEADLINE_SECONDS)

    async def loop() -> None:
        nonlocal remaining, accepted, refused
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            async with session.post("/api/v1/events", data=body, headers=JSON) as response:
                await response.read()
                if response.status == 202:
                    accepted += 1
                else:
                    refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return accepted, refused, time.perf_counter() - started


async def delivered(database_url: str) -> None:
    """Wait until the batches' deliveries are sent, so that the single phase measures its
    own requests rather than competing with a backlog the batches left."""
    deadline = time.monotonic() + PHASE_DEADLINE_SECONDS
    async with reader(database_url) as query:
        while time.monotonic() < deadline:
            if not await count(query, PENDING):
                return
            await asyncio.sleep(0.2)


async def drive(
    base_url: str, api_key: str, database_url: str, receiver: str, args: argparse.Namespace
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"}
    events = [{"type": "task_created", "data": order_payload(number)} for number in range(BATCH)]
    batch_body = orjson.dumps({"events": events})
    bodies = [batch_body] * -(-args.batch_events // BATCH)
    single_body = orjson.dumps(events[0])
    batch_rates: list[float] = []
    single_rates: list[float] = []
    accepted_total = 0
    refused_total = 0
    connector = aiohttp.TCPConnector(limit=max(args.batch_clients, args.single_clients))
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as session:
        subscription = {
            "configuration": {"url": f"{receiver}/hooks/ingest"},
            "event_types": ["task_created"],
        }
        async with session.post("/api/v1/webhooks", json=subscription) as response:
            if response.status != 201:
                raise RuntimeError(f"subscribe: {response.status} {await response.text()}")
        for number in range(1, args.runs + 1):
            accepted, seconds = await batch_phase(session, bodies, args.batch_clients)
            accepted_total += accepted
            batch_rates.append(accepted / seconds)
            await delivered(database_url)
            ok, refused, seconds = await single_phase(
                session,
                single_body,
                args.single_clients,
                args.single_requests,
                args.single_seconds,
            )
            accepted_total += ok
            refused_total += refused
            single_rates.append(ok / seconds)
            log(
                f"  round {number}: batch {batch_rates[-1]:,.0f} events/s, "
                f"single {single_rates[-1]:,.0f} requests/s ({refused} refused)"
            )
    async with reader(database_url) as query:
        stored = await count(query, "SELECT count(*) FROM events")
    return {
        "batch_events_per_second_median": round(median(batch_rates)),
        "batch_events_per_second_runs": [round(rate) for rate in batch_rates],
        "single_per_second_median": round(median(single_rates)),
        "single_per_second_runs": [round(rate) for rate in single_rates],
        "accepted": accepted_total,
        "refused": refused_total,
        "stored": stored,
    }


def measure(system: str, receiver: str, args: argparse.Namespace) -> dict[str, Any]:
    kind, settings = SYSTEMS[system]
    with database(kind) as url:
        tenant = create_tenant(url)
        with deployment(kind, url, settings) as (base_url, processes):
            figures = uvloop.run(drive(base_url, tenant["api_key"], url, receiver, args))
            rss = rss_by_role(kind, processes)
    return {
        "scenario": "ingest",
        "system": system,
        "deployment": DEPLOYMENTS[system],
        "runs": args.runs,
        "batch_events": len(range(0, args.batch_events, BATCH)) * BATCH,
        "batch_clients": args.batch_clients,
        "single_clients": args.single_clients,
        "single_requests": args.single_requests,
        "single_seconds": args.single_seconds,
        **figures,
        "durable": figures["stored"] == figures["accepted"],
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-events", type=int, default=20_000)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--single-requests", type=int, default=10_000)
    parser.add_argument("--single-seconds", type=float, default=10)
    parser.add_argument("--single-clients", type=int, default=32)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with fast_receiver() as (receiver, _name):
        for system in args.databases.split(","):
            log(f"ingest on {system}")
            print(json.dumps(measure(system, receiver, args)), flush=True)


if __name__ == "__main__":
    main()
