"""The ASGI app factory and the lifespan that opens and closes each process's resources."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import waypost
from waypost import web
from waypost.api import (
    auth_methods,
    catalog,
    deliveries,
    entities,
    events,
    oauth,
    reports,
    webhooks,
)
from waypost.api.deps import SlotReleaseMiddleware
from waypost.api.errors import install_error_handlers
from waypost.config import Settings
from waypost.delivery.dispatcher import Dispatcher
from waypost.delivery.intake import Intake
from waypost.delivery.outbound_auth import outbound
from waypost.heap import freeze_startup_objects
from waypost.observability import health
from waypost.observability.metrics import Metrics
from waypost.observability.tracing import Tracing
from waypost.reports.worker import ReportWorker
from waypost.resources import Services
from waypost.services.limits import Limiter
from waypost.store import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Roles:
    """Which background roles run beside the HTTP API in this process."""

    dispatcher: bool = False
    migrate: bool = True


class RequestIdMiddleware:
    """Gives every request an id: in ``X-Request-Id`` and in error bodies' ``uuid``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings, roles: Roles | None = None) -> FastAPI:
    """Build the waypost app for ``settings``; resources open in the lifespan."""
    roles = roles or Roles()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as resources:
            # The standard OTEL_* variables, read once; exported spans are flushed last.
            tracing = Tracing.from_environment(os.environ, "serve" if roles.dispatcher else "api")
            resources.callback(tracing.shutdown)
            store = await open_store(settings, run_migrations=roles.migrate)
            resources.push_async_callback(store.close)
            sender, authenticator = await resources.enter_async_context(outbound(settings))
            limiter = Limiter(
                rate=settings.rate_limit_per_second,
                burst=settings.rate_limit_burst,
                max_concurrent=settings.max_concurrent_requests,
                max_concurrent_tests=settings.max_concurrent_tests,
            )
            work_available = asyncio.Event()
            metrics.watch_database(store.health)
            stop = asyncio.Event()
            dispatcher = dispatching = None
            if roles.dispatcher:
                # Other processes' ingests (a second api on PostgreSQL) wake it too.
                await resources.enter_async_context(store.work_signals(work_available))
                dispatcher = Dispatcher(
                    store,
                    sender,
                    settings,
                    authenticator=authenticator,
                    wakeup=work_available,
                    metrics=metrics,
                    tracing=tracing,
                )
                dispatching = asyncio.gather(
                    dispatcher.run(stop), ReportWorker(store, sender, settings).run(stop)
                )
            svc = Services(
                settings=settings,
                store=store,
                # Fresh deliveries go straight to this process's dispatcher, if it has one.
                intake=Intake(store, handover=dispatcher),
                sender=sender,
                authenticator=authenticator,
                limiter=limiter,
                work_available=work_available,
                metrics=metrics,
                tracing=tracing,
            )
            app.state.services = svc
            freeze_startup_objects()
            log.info("api_started database=%s dispatcher=%s", store.dialect, roles.dispatcher)
            try:
                yield
            finally:
                # SIGTERM reaches here through uvicorn: stop claiming, finish what is in flight.
                stop.set()
                if dispatching is not None:
                    await dispatching
                await svc.drain()

    app = FastAPI(
        title="waypost",
        version=waypost.__version__,
        description=(
            "Self-hosted webhook delivery for logistics platforms. Every call authenticates "
            "with `Authorization: Bearer <api key>` (or Bring's `X-Mybring-API-Uid` + "
            "`X-Mybring-API-Key`). Errors are `{uuid, status, reason}`."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: answers 200 once the app is serving")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(webhooks.router)
    app.include_router(events.router)
    app.include_router(deliveries.router)
    app.include_router(catalog.router)
    app.include_router(entities.router)
    app.include_router(auth_methods.router)
    app.include_router(reports.router)
    app.include_router(oauth.router)
    web.install(app)
    health.install(app, metrics)
    app.add_middleware(SlotReleaseMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
