"""The raw loop baseline: a bare aiohttp loop posting the 2 KB order body, nothing persisted.

One process (uvloop, as waypost's processes), one shared ClientSession, and either
- ``--requests N --concurrency C``: N posts by C concurrent loops, as fast as they go, or
- ``--rate R --seconds S``: R posts a second for S seconds, each one's round trip timed;
  each body carries ``sent_at`` for a receiver started with ``--latency``.

Usage: python -m bench.rawloop --url URL (--requests N [--concurrency C] | --rate R --seconds S)
Prints one JSON line. Only 127.0.0.1 may be a target.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import uvloop

from bench.common import order_payload, paced

JSON = {"Content-Type": "application/json"}
# A bound on the whole loop, whatever the receiver does.
DEADLINE_SECONDS = 600


async def throughput(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    body = orjson.dumps(order_payload(0))
    remaining = requests
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + DEADLINE_SECONDS

        async def loop() -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                try:
                    async with session.post(url, data=body, headers=JSON) as response:
                        await response.read()
                        errors += response.status != 200
                except aiohttp.ClientError:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    sent = requests - remaining
    return {
        "requests": sent,
        "errors": errors,
        "seconds": round(seconds, 3),
        "per_second": round((sent - errors) / seconds, 1),
    }


async def at_rate(url: str, rate: float, seconds: float) -> dict[str, Any]:
    order = order_payload(0)
    latencies_ms: list[float] = []
    errors = 0
    async with aiohttp.ClientSession() as session:

        async def send() -> None:
            nonlocal errors
            body = orjson.dumps({**order, "sent_at": time.time()})
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=JSON) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        return
            except aiohttp.ClientError:
                errors += 1
                return
            latencies_ms.append((time.perf_counter() - started) * 1000)

        sending = await paced(rate, seconds, send)
    return {
        "requests": len(latencies_ms) + errors,
        "errors": errors,
        "achieved_rate": round((len(latencies_ms) + errors) / (sending + 1 / rate), 1),
        "latencies_ms": latencies_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    if urlsplit(args.url).hostname != "127.0.0.1":
        parser.error("--url must be on 127.0.0.1")
    if args.requests is not None:
        result = uvloop.run(throughput(args.url, args.requests, args.concurrency))
    elif args.rate is not None and args.seconds is not None:
        result = uvloop.run(at_rate(args.url, args.rate, args.seconds))
    else:
        parser.error("give --requests, or --rate and --seconds")
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
