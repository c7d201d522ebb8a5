"""A local OTLP/HTTP trace collector for the benchmarks that keeps nothing: it answers every
``POST /v1/traces`` with 200 and an empty ``ExportTraceServiceResponse``, and counts the
requests and bytes it was sent (``GET /stats``), so a run shows that spans were exported.

Usage: python -m bench.otlp_sink --port P
"""

from __future__ import annotations

import argparse

import orjson
import uvloop
from aiohttp import web

from bench.receiver import serve


def application() -> web.Application:
    received = {"requests": 0, "bytes": 0}

    async def traces(request: web.Request) -> web.Response:
        received["bytes"] += len(await request.read())
        received["requests"] += 1
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def stats(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(received), content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", traces)
    app.router.add_get("/stats", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(application(), args.port))


if __name__ == "__main__":
    main()
