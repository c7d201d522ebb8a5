"""The long-lived objects of one process (``Services``), the ``services`` dependency that
hands them to a route of the API or of the dashboard, and the clock.

Both HTTP edges use this module, so that neither imports the other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from waypost.config import Settings
from waypost.delivery.intake import Intake
from waypost.delivery.outbound_auth import Authenticator
from waypost.delivery.sender import Sender
from waypost.domain.models import Principal
from waypost.observability.metrics import Metrics
from waypost.observability.tracing import Tracing
from waypost.services.limits import Limiter, SignInThrottle
from waypost.store import Store
from waypost.store.interfaces import (
    ApiClientRepository,
    AuthMethodRepository,
    Callers,
    DashboardCharts,
    DeliveryHistory,
    EventTypeRepository,
    ReportRepository,
    Routing,
    SubscriptionRepository,
    SubscriptionSetup,
)

# A revoked key stops working within this many seconds on every api process.
_CACHE_SECONDS = 5.0
_CACHE_SIZE = 10_000


@dataclass
class PrincipalCache:
    """A short-lived cache of key digest → caller, so a burst of calls costs one lookup."""

    entries: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)

    def get(self, key: str) -> tuple[bool, Principal | None]:
        hit = self.entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: str, principal: Principal | None) -> None:
        if len(self.entries) >= _CACHE_SIZE:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + _CACHE_SECONDS, principal)


@dataclass
class Services:
    """The long-lived objects of one process, opened in the app's lifespan."""

    settings: Settings
    store: Store
    """The whole store, for the app's wiring (``app.py``: the dispatcher, the report
    worker, the intake, the health checks) and its closing. No route of ``api/`` or
    ``web/`` uses it: each goes through the narrow view of its resource below."""
    intake: Intake
    """Where routed events go to be stored (``waypost.services.ingest.ingest_events``)."""
    sender: Sender
    authenticator: Authenticator
    limiter: Limiter
    metrics: Metrics = field(default_factory=Metrics)
    tracing: Tracing = field(default_factory=Tracing)
    """Spans exported over OTLP when the standard variables ask; else a no-op."""
    sign_in_throttle: SignInThrottle = field(default_factory=SignInThrottle)
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    work_available: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on ingest so an in-process dispatcher wakes at once instead of at its next poll."""

    # Each resource's view of the one store: what its routes may use of it.

    @property
    def callers(self) -> Callers:
        return self.store

    @property
    def api_clients(self) -> ApiClientRepository:
        return self.store

    @property
    def routing(self) -> Routing:
        """What ingest reads to route events (``services.ingest``)."""
        return self.store

    @property
    def subscriptions(self) -> SubscriptionRepository:
        return self.store

    @property
    def subscription_setup(self) -> SubscriptionSetup:
        """What registering a subscription uses (``services.subscriptions.register``)."""
        return self.store

    @property
    def auth_methods(self) -> AuthMethodRepository:
        return self.store

    @property
    def event_types(self) -> EventTypeRepository:
        return self.store

    @property
    def history(self) -> DeliveryHistory:
        return self.store

    @property
    def reports(self) -> ReportRepository:
        return self.store

    @property
    def dashboard(self) -> DashboardCharts:
        return self.store

    def spawn(self, work: Coroutine[None, None, None]) -> None:
        """Run ``work`` after the response; shutdown waits for it (see ``drain``)."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def drain(self) -> None:
        if self.background:
            await asyncio.gather(*self.background, return_exceptions=True)


def running_services(request: Request) -> Services:
    """This process's services. The auth dependencies call it directly rather than
    through ``Depends(services)``: FastAPI solves a dependency anew wherever it is
    declared, cached or not, and each costs some 15 µs per request."""
    found: Services = request.app.state.services
    return found


async def services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
    # hand-off per request (about 130 µs of CPU on a 2 KB event).
    return running_services(request)


def utcnow() -> datetime:
    return datetime.now(UTC)
