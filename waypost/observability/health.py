"""``/metrics`` and ``/readyz`` on the HTTP API (``/healthz`` is the app's own), and the
readiness check every role shares. Both are unauthenticated and answer nothing more than
their name says: no version, no database URL, no counts beyond the metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waypost.config import Settings
from waypost.errors import DatabaseUnavailable, WaypostError
from waypost.observability.metrics import CONTENT_TYPE, Metrics, render
from waypost.store.interfaces import Monitoring, SchemaCheck

NOT_READY = "the database does not answer, or its schema is not this waypost's; see the log"


async def ready(store: SchemaCheck, settings: Settings) -> bool:
    """Whether the database answered within ``WAYPOST_READINESS_TIMEOUT`` seconds, with
    the newest schema."""
    try:
        async with asyncio.timeout(settings.readiness_timeout):
            return await store.schema_current()
    except (TimeoutError, WaypostError):
        return False


def install(app: FastAPI, metrics: Metrics) -> None:
    """Add ``/metrics`` and ``/readyz`` to ``app``, and count its requests in ``metrics``."""

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        store: Monitoring = request.app.state.services.store
        return Response(await render(metrics, store), media_type=CONTENT_TYPE)

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> dict[str, str]:
        svc = request.app.state.services
        if not await ready(svc.store, svc.settings):
            raise DatabaseUnavailable(NOT_READY)
        return {"status": "ready"}

    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)


class HttpMetricsMiddleware:
    """Counts each answered request by its route's template (``/api/v1/events/{event_id}``),
    never its path: a path holds ids, and one label value per id would grow without end."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router has put the matched route into the scope by now.
            route = getattr(scope.get("route"), "path", None)
            label = route or ("unmatched" if status == 404 else "other")
            self._metrics.http_requests.labels(label, str(status)).inc()
            self._metrics.http_duration.labels(label).observe(time.perf_counter() - started)
