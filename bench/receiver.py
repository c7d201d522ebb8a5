"""A webhook receiver for the benchmarks, run in its own process by ``common.receiver_process``.

Answers every POST with 200 and a small JSON body, except under ``/fail/``: 503
(as the nginx receiver does). With ``--sleep S`` it waits S seconds before
answering (a receiver that times out). With ``--latency`` it also
reads ``sent_at`` (a ``time.time()`` stamped by the sender) from each JSON body
and keeps ``arrival - sent_at`` in milliseconds, arrival being taken when the
request line and headers have arrived, before the body is read;
``GET /stats`` returns them.

Usage: python -m bench.receiver --port P [--latency] [--sleep S]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
import uvloop
from aiohttp import web

OK = b'{"ok":true}'
UNAVAILABLE = b'{"error":"unavailable"}'


def application(latency: bool, sleep: float = 0) -> web.Application:
    latencies_ms: list[float] = []

    async def fast(request: web.Request) -> web.Response:
        await request.read()
        if sleep:
            await asyncio.sleep(sleep)
        return web.Response(body=OK, content_type="application/json")

    async def fail(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=503, body=UNAVAILABLE, content_type="application/json")

    async def timed(request: web.Request) -> web.Response:
        arrival = time.time()
        body = orjson.loads(await request.read())
        latencies_ms.append((arrival - body["sent_at"]) * 1000)
        return web.Response(body=OK, content_type="application/json")

    async def stats(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"latencies_ms": latencies_ms}))

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_post("/fail/{tail:.*}", fail)
    app.router.add_post("/{tail:.*}", timed if latency else fast)
    return app


async def serve(app: web.Application, port: int) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` until the process is stopped."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", action="store_true", help="record arrival - sent_at")
    parser.add_argument("--sleep", type=float, default=0, help="seconds before each answer")
    args = parser.parse_args()
    uvloop.run(serve(application(args.latency, args.sleep), args.port))


if __name__ == "__main__":
    main()
