"""The ``worker``'s small HTTP listener on ``WAYPOST_METRICS_PORT``: ``/metrics``,
``/healthz`` and ``/readyz``, since a worker has no API port of its own."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from waypost.config import Settings
from waypost.errors import DatabaseUnavailable
from waypost.observability.health import NOT_READY, ready
from waypost.observability.metrics import CONTENT_TYPE, Metrics, render
from waypost.store.interfaces import Monitoring

log = logging.getLogger(__name__)


def _application(settings: Settings, store: Monitoring, metrics: Metrics) -> web.Application:
    async def prometheus_metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=await render(metrics, store), headers={"Content-Type": CONTENT_TYPE}
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if await ready(store, settings):
            return web.json_response({"status": "ready"})
        # The API's error shape, as ``/readyz`` answers on ``serve`` and ``api``.
        body = {"uuid": str(uuid.uuid4()), "status": "503", "reason": NOT_READY}
        return web.json_response(
            body, status=503, headers={"Retry-After": str(DatabaseUnavailable.retry_after)}
        )

    app = web.Application()
    app.router.add_get("/metrics", prometheus_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@asynccontextmanager
async def metrics_listener(
    settings: Settings, store: Monitoring, metrics: Metrics
) -> AsyncIterator[None]:
    """Serve the listener while the block runs, if ``WAYPOST_METRICS_PORT`` is set."""
    if settings.metrics_port is None:
        yield
        return
    runner = web.AppRunner(_application(settings, store, metrics), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
        log.info("metrics_listening host=%s port=%d", settings.metrics_host, settings.metrics_port)
        yield
    finally:
        await runner.cleanup()
