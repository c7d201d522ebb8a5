"""What each consumer asks of the store: one narrow ``Protocol`` per consumer.

The one ``Store`` satisfies them all (checked by mypy at the bottom of this module), but
nothing outside ``store/`` needs to depend on more than it uses: the intake writes
groups of events, the dispatcher works a delivery queue, the report worker a report
queue, and each API resource its own repository. A test gives a consumer a fake of its
protocol instead of a database. They live here, in the store's package, for the same
reason procrastinate keeps its connector interface in a module of its own: the store is
what implements them, and a consumer imports the interface, never the other way round.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from waypost.domain.auth import AuthMethod
from waypost.domain.catalog import EventType
from waypost.domain.models import (
    ApiClient,
    Attempt,
    AttemptRecord,
    ClaimedDelivery,
    DeliveryMapping,
    DeliverySummary,
    Header,
    Lease,
    ListedSubscription,
    NewEvent,
    Principal,
    SendTarget,
    StoredAuthMethod,
    StoredEvent,
    Subscription,
    SubscriptionSpec,
    User,
)
from waypost.domain.reports import Report, ReportRequest
from waypost.domain.values import Candidate
from waypost.store.dashboard import EndpointHealth, FailureCount, MinuteCount
from waypost.store.deliveries import EventBatch, StoredBatch
from waypost.store.history import DeliveryFilter
from waypost.store.queue_stats import QueueStats

# The delivery path: intake, dispatcher, report worker.


class IngestQueue(Protocol):
    """Where the intake (``delivery/intake.py``) writes routed events."""

    async def insert_group(
        self, *, batches: Sequence[EventBatch], lease: Lease | None
    ) -> list[StoredBatch]:
        """Every batch's events and deliveries in one transaction, the first
        ``lease.count`` deliveries leased to ``lease.owner``."""
        ...


class DeliveryQueue(Protocol):
    """What the dispatcher (``delivery/dispatcher.py``) claims, sends and records."""

    async def claim_due(
        self, *, owner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[ClaimedDelivery]: ...

    async def send_targets(
        self, *, subscription_ids: Sequence[str], now: datetime
    ) -> dict[str, SendTarget]: ...

    async def record_attempts(self, *, owner: str, records: Sequence[AttemptRecord]) -> None: ...

    async def cancel_deliveries(
        self, *, owner: str, delivery_ids: Sequence[str], reason: str, now: datetime
    ) -> None: ...


class ReportQueue(Protocol):
    """The undelivered reports the report worker (``reports/worker.py``) builds and sends."""

    async def claim_report(
        self, *, owner: str, now: datetime, lease_until: datetime
    ) -> Report | None: ...

    async def unnotified_reports(self, *, limit: int) -> list[Report]: ...

    def failed_deliveries(
        self, *, report: Report, page_rows: int
    ) -> AsyncIterator[Sequence[Any]]: ...

    async def add_report_part(
        self, *, report_id: str, owner: str, seq: int, data: bytes, lease_until: datetime
    ) -> bool: ...

    async def finish_report(
        self,
        *,
        report_id: str,
        owner: str,
        row_count: int | None,
        error: str | None,
        now: datetime,
    ) -> bool: ...

    async def mark_notified(self, *, report_id: str, now: datetime) -> None: ...


# Routing (``waypost/ingest.py``): what ingest reads before it writes.


class CustomEventTypes(Protocol):
    """A tenant's own event types, beside the built-in catalog."""

    async def custom_event_types(
        self, *, tenant_id: str, names: Collection[str] | None = None
    ) -> list[EventType]: ...


class Routing(CustomEventTypes, Protocol):
    """The subscriptions an event goes to, the acknowledged ids its bodies carry, and the
    entity snapshots whose changes fire events."""

    async def route_candidates(
        self,
        *,
        tenant_id: str,
        topics: Collection[str],
        tracking_keys: Collection[str],
        now: datetime,
    ) -> list[Candidate]: ...

    async def delivery_mappings(
        self, *, tenant_id: str, order_keys: Collection[str]
    ) -> list[DeliveryMapping]: ...

    async def observe_entity(
        self,
        *,
        tenant_id: str,
        kind: str,
        entity_id: str,
        values: Mapping[str, Any],
        derive: Callable[[Mapping[str, Any]], Sequence[NewEvent]],
        now: datetime,
    ) -> Sequence[NewEvent]: ...


# The API and the dashboard: one repository per resource.


class Callers(Protocol):
    """Who is calling: API keys, OAuth2 clients, users, and the keys that sign tokens."""

    async def principal_for_key(self, key_digest: str) -> Principal | None: ...

    async def api_client(self, client_id: str) -> ApiClient | None: ...

    async def user_by_email(self, email: str) -> User | None: ...

    async def user_by_id(self, *, tenant_id: str, user_id: str) -> User | None: ...

    def derived_key(self, purpose: str) -> bytes: ...


class ApiClientRepository(Protocol):
    """OAuth2 clients (``api/oauth.py``)."""

    async def api_client(self, client_id: str) -> ApiClient | None: ...

    async def create_api_client(
        self,
        *,
        tenant_id: str,
        client_id: str,
        secret_digest: str,
        name: str,
        scopes: tuple[str, ...],
        now: datetime,
    ) -> ApiClient: ...

    async def list_api_clients(self, *, tenant_id: str) -> list[ApiClient]: ...

    async def revoke_api_client(
        self, *, tenant_id: str, client_uuid: str, now: datetime
    ) -> None: ...


class SubscriptionRepository(CustomEventTypes, Protocol):
    """Subscriptions (``api/webhooks.py``, ``web/webhooks.py``), and the tenant's own event
    types their previews and test pushes are made from."""

    async def create_subscriptions(
        self,
        *,
        tenant_id: str,
        authenticator: str,
        specs: Sequence[SubscriptionSpec],
        now: datetime,
    ) -> list[Subscription]: ...

    async def get_subscription(
        self, *, tenant_id: str, subscription_id: str, now: datetime
    ) -> Subscription: ...

    def list_subscriptions(
        self, *, tenant_id: str, limit: int, now: datetime, fields: Sequence[str]
    ) -> AsyncIterator[Sequence[ListedSubscription]]: ...

    def iter_subscriptions(
        self, *, tenant_id: str, limit: int, now: datetime
    ) -> AsyncIterator[Subscription]: ...

    async def delete_subscription(
        self, *, tenant_id: str, subscription_id: str, now: datetime
    ) -> Subscription: ...

    async def rotate_secret(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        secret: str,
        previous_until: datetime,
        now: datetime,
    ) -> None: ...

    async def change_auth(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        auth_method_id: str | None,
        headers: Sequence[Header] | None,
        now: datetime,
        send_traceparent: bool | None = None,
    ) -> Subscription: ...

    async def set_fields(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        fields: tuple[str, ...] | None,
        now: datetime,
    ) -> Subscription: ...

    async def send_target(
        self, *, tenant_id: str, subscription_id: str, now: datetime
    ) -> SendTarget: ...


class AuthMethodRepository(Protocol):
    """Outbound auth methods (``api/auth_methods.py``, ``web/webhooks.py``)."""

    async def create_auth_method(
        self, *, tenant_id: str, name: str, method: AuthMethod, now: datetime
    ) -> StoredAuthMethod: ...

    async def get_auth_method(self, *, tenant_id: str, method_id: str) -> StoredAuthMethod: ...

    async def auth_method(self, *, tenant_id: str, method_id: str) -> AuthMethod: ...

    async def list_auth_methods(self, *, tenant_id: str) -> list[StoredAuthMethod]: ...

    async def update_auth_method(
        self, *, tenant_id: str, method_id: str, name: str, method: AuthMethod, now: datetime
    ) -> StoredAuthMethod: ...

    async def delete_auth_method(
        self, *, tenant_id: str, method_id: str, now: datetime
    ) -> None: ...


class SubscriptionSetup(SubscriptionRepository, AuthMethodRepository, Protocol):
    """What registering a subscription reads and writes (``services.subscriptions.register``):
    the subscriptions, the auth method they name, the tenant's own event types."""


class EventTypeRepository(CustomEventTypes, Protocol):
    """A tenant's own event types (``api/catalog.py``)."""

    async def create_event_type(
        self, *, tenant_id: str, event_type: EventType, now: datetime
    ) -> None: ...

    async def delete_event_type(self, *, tenant_id: str, name: str, now: datetime) -> None: ...


class DeliveryHistory(Protocol):
    """Events, deliveries and their attempts as users see them, retry and replay
    (``api/events.py``, ``api/deliveries.py``, ``web/deliveries.py``, the CLI)."""

    async def get_event(self, *, tenant_id: str, event_id: str) -> StoredEvent: ...

    async def get_delivery(
        self, *, tenant_id: str, delivery_id: str
    ) -> tuple[DeliverySummary, list[Attempt]]: ...

    async def list_deliveries(
        self, *, tenant_id: str, selection: DeliveryFilter, cursor: str | None, limit: int
    ) -> tuple[list[DeliverySummary], str | None]: ...

    async def delivery_payload(self, *, tenant_id: str, delivery_id: str) -> str: ...

    async def delivery_mappings(
        self, *, tenant_id: str, order_keys: Collection[str]
    ) -> list[DeliveryMapping]: ...

    async def retry_delivery(
        self, *, tenant_id: str, delivery_id: str, now: datetime
    ) -> DeliverySummary: ...

    async def count_replayable(
        self, *, tenant_id: str, selection: DeliveryFilter, now: datetime
    ) -> int: ...

    async def replay_chunk(
        self, *, tenant_id: str, selection: DeliveryFilter, now: datetime, limit: int = 1000
    ) -> int: ...


class ReportRepository(CustomEventTypes, Protocol):
    """Undelivered reports as users request and download them (``api/reports.py``,
    ``web/undelivered.py``), and the tenant's own event types a request may name."""

    async def create_report(
        self,
        *,
        tenant_id: str,
        request: ReportRequest,
        email: str | None,
        callback_url: str | None,
        now: datetime,
    ) -> str: ...

    async def get_report(self, *, tenant_id: str, report_id: str) -> Report: ...

    async def list_reports(self, *, tenant_id: str, limit: int = 20) -> list[Report]: ...

    def report_parts(self, *, report_id: str) -> AsyncIterator[bytes]: ...


class DashboardCharts(Protocol):
    """The dashboard's charts and endpoint health (``web/overview.py``, ``web/webhooks.py``)."""

    async def deliveries_per_minute(
        self, *, tenant_id: str, since: datetime
    ) -> list[MinuteCount]: ...

    async def failures_by_endpoint(
        self, *, tenant_id: str, since: datetime, limit: int = 10
    ) -> list[FailureCount]: ...

    async def failures_by_status(
        self, *, tenant_id: str, since: datetime
    ) -> list[tuple[int | None, int]]: ...

    async def endpoint_health(
        self, *, tenant_id: str, since: datetime
    ) -> dict[str, EndpointHealth]: ...


# The health checks (``observability/``): what ``/metrics`` and ``/readyz`` read.


class SchemaCheck(Protocol):
    """Whether the database answers with this waypost's newest schema (``/readyz``)."""

    async def schema_current(self) -> bool: ...


class Monitoring(SchemaCheck, Protocol):
    """``/readyz`` and the queue's gauges on ``/metrics`` (``observability/``)."""

    async def queue_stats(self, *, now: datetime) -> QueueStats: ...


if TYPE_CHECKING:
    from waypost.store.base import Store

    def _the_store_satisfies_every_interface(
        store: Store,
    ) -> tuple[
        IngestQueue,
        DeliveryQueue,
        ReportQueue,
        Routing,
        Callers,
        ApiClientRepository,
        SubscriptionRepository,
        AuthMethodRepository,
        SubscriptionSetup,
        EventTypeRepository,
        DeliveryHistory,
        ReportRepository,
        DashboardCharts,
        SchemaCheck,
        Monitoring,
    ]:
        """Never called: mypy checks the return value's type, which fails the build the
        day the store and an interface drift apart."""
        return (
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
        )
