"""Subscriptions: register them, preview what one receives, send one a test push.

``register`` takes a ``SubscriptionInput``, plain values. ``WebhookCreate`` (and the
fields it shares with the API's batch create, ``SubscriptionFields``) is the JSON body
the API accepts and the dashboard's "Add Webhook" form builds, so that both validate
it alike; ``as_input`` turns it into those values.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from waypost.delivery.outbound import PushOutcome, preview, sample_type, send_test_push
from waypost.delivery.outbound_auth import Authenticator
from waypost.delivery.sender import Sender
from waypost.domain import headers as http_headers
from waypost.domain import subscriptions as rules
from waypost.domain.catalog import EVENT_GROUPS, EVENT_TYPES, EventType
from waypost.domain.models import Header, Principal, Subscription, SubscriptionSpec
from waypost.domain.payload import parse_fields
from waypost.domain.retry import exponential_delays
from waypost.domain.routing import parse_filters
from waypost.domain.signing import generate_secret
from waypost.domain.urls import check_url
from waypost.errors import NotFound, ValidationFailed
from waypost.services.limits import Limiter, caller_key
from waypost.store.interfaces import (
    AuthMethodRepository,
    CustomEventTypes,
    SubscriptionRepository,
    SubscriptionSetup,
)

_STRICT = ConfigDict(extra="forbid", strict=True)


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """``base, base*factor, base*factor^2, ...`` seconds, each at most ``cap``."""

    base: float
    factor: float
    retries: int
    cap: float


@dataclass(frozen=True, kw_only=True)
class SubscriptionInput:
    """A subscription as its creator gives it, before its rules are checked; ``None``
    where nothing was given, so the default applies."""

    url: str
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    event_groups: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    filters: tuple[dict[str, Any], ...] = ()
    fields: tuple[str, ...] | None = None
    auth_method_id: str | None = None
    success_codes: Literal["200", "2xx"] = "200"
    retry_delays: tuple[float, ...] | None = None
    retry_backoff: Backoff | None = None
    retry_jitter: float = 0.0
    require_ack: bool = False
    send_traceparent: bool = False


class HeaderIn(BaseModel):
    model_config = _STRICT
    key: str = Field(description="An HTTP token: letters, digits and !#$%&'*+-.^_`|~")
    value: str = Field(
        description="Write-only: never returned by any response. No control characters "
        "but horizontal tab."
    )


class ConfigurationIn(BaseModel):
    model_config = _STRICT
    url: str = Field(min_length=1, max_length=rules.MAX_URL)
    content_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=rules.MAX_CONTENT_TYPE,
        description="A media type, e.g. application/json; charset=utf-8",
    )
    headers: list[HeaderIn] = Field(default_factory=list)


class RetryBackoff(BaseModel):
    """``base, base*factor, base*factor^2, ...`` seconds, each at most ``cap``."""

    model_config = _STRICT
    base: float = Field(gt=0, le=rules.MAX_RETRY_DELAY_SECONDS, examples=[30])
    factor: float = Field(ge=1, le=10, examples=[2])
    retries: int = Field(ge=1, le=rules.MAX_RETRY_DELAYS, examples=[10])
    cap: float = Field(gt=0, le=rules.MAX_RETRY_DELAY_SECONDS, examples=[21600])


class SubscriptionFields(BaseModel):
    """Fields shared by the single and the batch create."""

    model_config = _STRICT
    configuration: ConfigurationIn
    event_groups: list[str] | None = Field(default=None, description="Event Cast/Bringg groups")
    event_types: list[str] | None = Field(default=None, description="Event type names")
    filters: list[dict[str, Any]] | None = Field(
        default=None, description="Conditions that must all hold: {field, op, value}"
    )
    fields: list[str] | None = Field(
        default=None, description="Payload fields to send; null for the type's default data"
    )
    auth_method_id: str | None = None
    success_codes: Literal["200", "2xx"] = "200"
    retry_delays: list[float] | None = Field(
        default=None, description="Seconds before each retry; default WAYPOST_RETRY_DELAYS"
    )
    retry_backoff: RetryBackoff | None = Field(
        default=None, description="An exponential schedule instead of retry_delays"
    )
    retry_jitter: float = Field(
        default=0.0, ge=0, le=0.5, description="Spread each delay by up to this fraction"
    )
    require_ack: bool = False
    send_traceparent: bool = Field(
        default=False,
        description="Send each attempt's W3C traceparent header (while waypost exports traces)",
    )

    def as_input(self) -> SubscriptionInput:
        configuration, backoff = self.configuration, self.retry_backoff
        return SubscriptionInput(
            url=configuration.url,
            content_type=configuration.content_type,
            headers=tuple((header.key, header.value) for header in configuration.headers),
            event_groups=tuple(self.event_groups or ()),
            event_types=tuple(self.event_types or ()),
            filters=tuple(self.filters or ()),
            fields=tuple(self.fields) if self.fields is not None else None,
            auth_method_id=self.auth_method_id,
            success_codes=self.success_codes,
            retry_delays=tuple(self.retry_delays) if self.retry_delays is not None else None,
            retry_backoff=(
                Backoff(
                    base=backoff.base,
                    factor=backoff.factor,
                    retries=backoff.retries,
                    cap=backoff.cap,
                )
                if backoff is not None
                else None
            ),
            retry_jitter=self.retry_jitter,
            require_ack=self.require_ack,
            send_traceparent=self.send_traceparent,
        )


class WebhookCreate(SubscriptionFields):
    trackingId: str | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="Parcel or shipment number; omit to receive every entity's events",
    )


async def check_auth_method(
    store: AuthMethodRepository, tenant_id: str, method_id: str | None
) -> None:
    if method_id is None:
        return
    try:
        await store.get_auth_method(tenant_id=tenant_id, method_id=method_id)
    except NotFound as exc:
        raise ValidationFailed(
            f"auth_method_id: no auth method {method_id} (see /api/v1/auth-methods)"
        ) from exc


async def _custom_types(
    store: CustomEventTypes, tenant_id: str, subscription: SubscriptionInput
) -> list[EventType]:
    """The tenant's own types, looked up only when the input names something not built in."""
    if all(name in EVENT_TYPES for name in subscription.event_types) and all(
        group in EVENT_GROUPS for group in subscription.event_groups
    ):
        return []
    return await store.custom_event_types(tenant_id=tenant_id)


def _specs(
    subscription: SubscriptionInput,
    tracking_ids: Sequence[str | None],
    now: datetime,
    custom: list[EventType],
    *,
    allow_private: bool,
    lifetime_days: int,
) -> list[SubscriptionSpec]:
    """Validate once, then one spec per tracking id; any error rejects the whole request."""
    check_url(subscription.url, field="configuration.url", allow_private=allow_private)
    pairs = list(subscription.headers)
    rules.check_headers(pairs)
    content_type = subscription.content_type or "application/json"
    http_headers.check_media_type("configuration.content_type", content_type)
    groups = rules.check_event_groups(subscription.event_groups, custom)
    types = rules.check_event_types(subscription.event_types, custom)
    if not groups and not types:
        raise ValidationFailed("event_groups: at least one event group (or event type) is required")
    # The parsers take the lists as the body gave them.
    filters = parse_filters(list(subscription.filters))
    fields = parse_fields(list(subscription.fields)) if subscription.fields is not None else None
    delays = _retry_delays(subscription)
    lifetime = timedelta(days=lifetime_days)
    return [
        SubscriptionSpec(
            tracking_id=tracking_id,
            url=subscription.url,
            content_type=content_type,
            headers=tuple(Header(key=key, value=value) for key, value in pairs),
            event_groups=groups,
            event_types=types,
            filters=tuple({"field": c.field, "op": str(c.op), "value": c.value} for c in filters),
            fields=fields,
            auth_method_id=subscription.auth_method_id,
            success_codes=subscription.success_codes,
            retry_delays=delays,
            retry_jitter=subscription.retry_jitter,
            require_ack=subscription.require_ack,
            send_traceparent=subscription.send_traceparent,
            secret=generate_secret(),
            expires_at=now + lifetime if tracking_id is not None else None,
        )
        for tracking_id in tracking_ids
    ]


def _retry_delays(subscription: SubscriptionInput) -> tuple[float, ...] | None:
    if subscription.retry_delays is not None and subscription.retry_backoff is not None:
        raise ValidationFailed("retry_backoff: give retry_delays or retry_backoff, not both")
    if subscription.retry_backoff is not None:
        backoff = subscription.retry_backoff
        return exponential_delays(backoff.base, backoff.factor, backoff.retries, backoff.cap)
    if subscription.retry_delays is not None:
        return rules.check_retry_delays(subscription.retry_delays)
    return None


async def register(
    store: SubscriptionSetup,
    principal: Principal,
    subscription: SubscriptionInput,
    tracking_ids: Sequence[str | None],
    *,
    now: datetime,
    allow_private: bool,
    lifetime_days: int,
) -> list[tuple[Subscription, SubscriptionSpec]]:
    """Validate ``subscription`` and create one per tracking id, all or nothing (the API's
    create routes and the dashboard's "Add Webhook"). ``allow_private`` and
    ``lifetime_days`` are the settings ``allow_private_targets`` and
    ``subscription_lifetime_days``."""
    await check_auth_method(store, principal.tenant_id, subscription.auth_method_id)
    custom = await _custom_types(store, principal.tenant_id, subscription)
    specs = _specs(
        subscription,
        tracking_ids,
        now,
        custom,
        allow_private=allow_private,
        lifetime_days=lifetime_days,
    )
    created = await store.create_subscriptions(
        tenant_id=principal.tenant_id,
        authenticator=principal.credential_id,
        specs=specs,
        now=now,
    )
    return list(zip(created, specs, strict=True))


async def prepare_test_push(
    store: SubscriptionRepository,
    limiter: Limiter,
    sender: Sender,
    authenticator: Authenticator,
    principal: Principal,
    webhook_id: str,
    *,
    now: datetime,
) -> Coroutine[None, None, PushOutcome]:
    """Check the webhook and the caller's limit on tests in flight now; the returned
    coroutine sends the dummy request and frees the caller's slot."""
    target = await store.send_target(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, now=now
    )
    event_type = await sample_type_for(store, principal.tenant_id, target.subscription)
    caller = caller_key(principal)
    limiter.enter(caller, "test")

    async def push() -> PushOutcome:
        try:
            return await send_test_push(sender, authenticator, target, event_type, now)
        finally:
            limiter.leave(caller, "test")

    return push()


async def sample_type_for(
    store: CustomEventTypes, tenant_id: str, subscription: Subscription
) -> EventType:
    names = {*subscription.event_types, *subscription.event_groups}
    custom = {}
    if not names <= {*EVENT_TYPES, *EVENT_GROUPS}:
        custom = {t.name: t for t in await store.custom_event_types(tenant_id=tenant_id)}
    return sample_type(subscription, custom)


async def preview_body(
    store: SubscriptionRepository,
    tenant_id: str,
    webhook_id: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime,
) -> tuple[bytes, bool]:
    """The body the webhook would receive for ``data`` (default: its type's example), and
    whether its filters let that event through: "Selected Data"."""
    subscription = await store.get_subscription(
        tenant_id=tenant_id, subscription_id=webhook_id, now=now
    )
    event_type = await sample_type_for(store, tenant_id, subscription)
    return preview(
        subscription, event_type, event_type.example_copy() if data is None else data, now
    )
