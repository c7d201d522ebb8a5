"""The domain's nouns: typed values every layer passes around.

The store turns its rows into these in one place, ``store/rows.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from waypost.domain.ack import Acknowledgement
from waypost.domain.auth import AuthMethod
from waypost.domain.values import NewDelivery

SUBSCRIPTION_ENDED = "subscription ended or expired before delivery"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class User:
    id: str
    tenant_id: str
    email: str
    password_hash: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    id: str
    tenant_id: str
    user_id: str | None
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class ApiClient:
    id: str
    tenant_id: str
    client_id: str
    secret_digest: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is calling: the tenant, and the credential (its id is the Event Cast authenticator)."""

    tenant_id: str
    credential_id: str
    user_id: str | None
    scopes: frozenset[str] | None = None
    """``None`` means full access (API keys); OAuth clients carry explicit scopes."""


@dataclass(frozen=True, kw_only=True)
class Header:
    key: str
    value: str


@dataclass(frozen=True, kw_only=True)
class SubscriptionSpec:
    """A validated request for a new subscription (one per tracking id in a batch)."""

    tracking_id: str | None
    url: str
    content_type: str
    headers: tuple[Header, ...]
    event_groups: tuple[str, ...]
    event_types: tuple[str, ...]
    filters: tuple[dict[str, Any], ...] = ()
    fields: tuple[str, ...] | None = None
    auth_method_id: str | None = None
    success_codes: str = "200"
    retry_delays: tuple[float, ...] | None = None
    retry_jitter: float = 0.0
    require_ack: bool = False
    send_traceparent: bool = False
    secret: str
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """A webhook subscription as the API shows it: no secret values in here."""

    id: str
    tenant_id: str
    authenticator: str
    tracking_id: str | None
    url: str
    content_type: str
    header_keys: tuple[str, ...]
    event_groups: tuple[str, ...]
    event_types: tuple[str, ...]
    filters: tuple[dict[str, Any], ...]
    fields: tuple[str, ...] | None
    auth_method_id: str | None
    success_codes: str
    retry_delays: tuple[float, ...] | None
    retry_jitter: float
    require_ack: bool
    created_at: datetime
    expires_at: datetime | None
    ended_at: datetime | None
    send_traceparent: bool = False
    """Whether its requests carry the attempt's ``traceparent`` (while tracing is on)."""


ListedSubscription = tuple[Any, ...]
"""A subscription as a long listing reads it: the raw values of the fields the caller
asked for, in its order (``list_subscriptions``), the JSON columns as stored, undecoded,
so the caller decodes each distinct text once rather than once per row (``Subscription``
costs tens of microseconds a row to build and render)."""


@dataclass(frozen=True, kw_only=True)
class StoredAuthMethod:
    """A method as the API shows it: ``public`` holds no secret."""

    id: str
    name: str
    kind: str
    public: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class SendTarget:
    """Everything needed to send to a subscription, secrets decrypted: never serialised."""

    subscription: Subscription
    headers: tuple[Header, ...]
    secrets: tuple[str, ...] = field(repr=False)
    """Signing secrets, current first; a rotated-out secret stays here for 24 h."""
    auth: AuthMethod | None = field(default=None, repr=False)
    """The subscription's JWT or OAuth2 method, secrets included."""


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    id: str
    type: str
    tracking_id: str | None
    data: str
    idempotency_key: str | None
    deliveries: tuple[NewDelivery, ...]
    traceparent: str | None = None
    """The ingest span's W3C ``traceparent`` while tracing is on, kept with each delivery."""


@dataclass(frozen=True, kw_only=True)
class ClaimedDelivery:
    id: str
    tenant_id: str
    event_id: str
    webhook_id: str
    event_type: str
    tracking_id: str | None
    attempt_count: int
    payload: str
    created_at: datetime
    traceparent: str | None = None
    """The ingest span that made it, if tracing was on: its attempts' parent."""


@dataclass(frozen=True, kw_only=True)
class Lease:
    """Deliveries an in-process dispatcher takes as they are stored: ``count`` of them,
    leased to ``owner`` until ``until``."""

    owner: str
    until: datetime
    count: int


@dataclass(frozen=True, kw_only=True)
class AttemptRecord:
    """One request's result and what it decides for its delivery."""

    delivery_id: str
    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    response_headers: dict[str, str]
    response_excerpt: str
    error: str | None
    status: DeliveryStatus
    request_headers: tuple[tuple[str, str], ...]
    """The headers sent, secret values masked; empty when nothing was sent."""
    next_attempt_at: datetime | None
    ack: Acknowledgement | None = None
    """The receiver's accepted acknowledgement: its delivery_id and details."""
    ack_error_message: str | None = None
    ends_subscription: bool = False


@dataclass(frozen=True, kw_only=True)
class DeliveryMapping:
    """Which external delivery id a receiver gave for an order, per subscription."""

    tracking_id: str
    webhook_id: str
    delivery_id: str
    delivery_cost: int | None
    green_delivery: bool | None
    fleet_extras: dict[str, Any] | None
    source_delivery_id: str
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class DeliverySummary:
    id: str
    event_id: str
    webhook_id: str
    event_type: str
    tracking_id: str | None
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    ack_delivery_id: str | None
    ack_error_message: str | None


@dataclass(frozen=True, kw_only=True)
class StoredEvent:
    id: str
    type: str
    tracking_id: str | None
    data: str
    idempotency_key: str | None
    created_at: datetime
    deliveries: tuple[DeliverySummary, ...]


@dataclass(frozen=True, kw_only=True)
class Attempt:
    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    response_headers: dict[str, str]
    response_excerpt: str
    error: str | None
    request_headers: tuple[tuple[str, str], ...] | None
    """The headers sent, secret values masked; ``None`` for attempts made before they
    were recorded."""
