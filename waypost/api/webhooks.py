"""Webhook subscriptions: Bring's Event Cast API, plus waypost's own fields."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, JsonObject, OrjsonRoute
from waypost.api.webhook_out import LISTED_SOURCES, listed_webhooks, webhook_out
from waypost.delivery.outbound import PushOutcome, preview, sample_type, send_test_push
from waypost.domain import headers as http_headers
from waypost.domain import subscriptions as rules
from waypost.domain.catalog import EVENT_GROUPS, EVENT_TYPES, EventType
from waypost.domain.eventcast import format_time
from waypost.domain.payload import parse_fields
from waypost.domain.retry import exponential_delays
from waypost.domain.routing import parse_filters
from waypost.domain.signing import generate_secret
from waypost.domain.urls import check_url
from waypost.errors import NotFound, ValidationFailed
from waypost.resources import Services, services, utcnow
from waypost.services.limits import caller_key
from waypost.store.models import (
    Header,
    Principal,
    Subscription,
    SubscriptionSpec,
)

router = APIRouter(tags=["webhooks"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

MAX_LIST = 150_000
DEFAULT_LIST = 10_000
_STRICT = ConfigDict(extra="forbid", strict=True)
_LIMIT = re.compile(r"[0-9]{1,6}")


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


class _SubscriptionFields(BaseModel):
    """Fields shared by the single and the batch create."""

    model_config = _STRICT
    configuration: ConfigurationIn
    event_groups: list[str] | None = Field(default=None, description="Event Cast/Bringg groups")
    event_types: list[str] | None = Field(default=None, description="Event type names")
    filters: list[JsonObject] | None = Field(
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


class WebhookCreate(_SubscriptionFields):
    trackingId: str | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="Parcel or shipment number; omit to receive every entity's events",
    )


class WebhookBatchCreate(_SubscriptionFields):
    trackingIds: list[Annotated[str, Field(min_length=1, max_length=250)]] = Field(
        min_length=1, max_length=rules.MAX_TRACKING_IDS
    )


class HeaderOut(BaseModel):
    key: str


class ConfigurationOut(BaseModel):
    url: str
    content_type: str
    headers: list[HeaderOut]


class WebhookOut(BaseModel):
    id: str = Field(max_length=36)
    authenticator: str = Field(max_length=40)
    configuration: ConfigurationOut
    trackingId: str | None
    event_groups: list[str]
    event_types: list[str]
    filters: list[dict[str, Any]]
    fields: list[str] | None
    auth_method_id: str | None
    success_codes: str
    retry_delays: list[float] | None
    retry_jitter: float
    require_ack: bool
    created: str = Field(description="yyyy-MM-dd'T'HH:mm:ssZ, UTC")
    expiry: str | None = Field(description="yyyy-MM-dd'T'HH:mm:ssZ, UTC; null: no expiry")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signing secret (whsec_...); shown only in this response")


async def _check_auth_method(svc: Services, tenant_id: str, method_id: str | None) -> None:
    if method_id is None:
        return
    try:
        await svc.store.get_auth_method(tenant_id=tenant_id, method_id=method_id)
    except NotFound as exc:
        raise ValidationFailed(
            f"auth_method_id: no auth method {method_id} (see /api/v1/auth-methods)"
        ) from exc


async def _custom_types(
    svc: Services, tenant_id: str, body: _SubscriptionFields
) -> list[EventType]:
    """The tenant's own types, looked up only when the body names something not built in."""
    if all(name in EVENT_TYPES for name in body.event_types or ()) and all(
        group in EVENT_GROUPS for group in body.event_groups or ()
    ):
        return []
    return await svc.store.custom_event_types(tenant_id=tenant_id)


def _specs(
    body: _SubscriptionFields,
    tracking_ids: list[str | None],
    svc: Services,
    now: datetime,
    custom: list[EventType],
) -> list[SubscriptionSpec]:
    """Validate once, then one spec per tracking id; any error rejects the whole request."""
    configuration = body.configuration
    check_url(
        configuration.url,
        field="configuration.url",
        allow_private=svc.settings.allow_private_targets,
    )
    pairs = [(header.key, header.value) for header in configuration.headers]
    rules.check_headers(pairs)
    content_type = configuration.content_type or "application/json"
    http_headers.check_media_type("configuration.content_type", content_type)
    groups = rules.check_event_groups(body.event_groups or [], custom)
    types = rules.check_event_types(body.event_types or [], custom)
    if not groups and not types:
        raise ValidationFailed("event_groups: at least one event group (or event type) is required")
    filters = parse_filters(body.filters or [])
    fields = parse_fields(body.fields) if body.fields is not None else None
    delays = _retry_delays(body)
    lifetime = timedelta(days=svc.settings.subscription_lifetime_days)
    return [
        SubscriptionSpec(
            tracking_id=tracking_id,
            url=configuration.url,
            content_type=content_type,
            headers=tuple(Header(key=key, value=value) for key, value in pairs),
            event_groups=groups,
            event_types=types,
            filters=tuple({"field": c.field, "op": str(c.op), "value": c.value} for c in filters),
            fields=fields,
            auth_method_id=body.auth_method_id,
            success_codes=body.success_codes,
            retry_delays=delays,
            retry_jitter=body.retry_jitter,
            require_ack=body.require_ack,
            secret=generate_secret(),
            expires_at=now + lifetime if tracking_id is not None else None,
        )
        for tracking_id in tracking_ids
    ]


def _retry_delays(body: _SubscriptionFields) -> tuple[float, ...] | None:
    if body.retry_delays is not None and body.retry_backoff is not None:
        raise ValidationFailed("retry_backoff: give retry_delays or retry_backoff, not both")
    if body.retry_backoff is not None:
        backoff = body.retry_backoff
        return exponential_delays(backoff.base, backoff.factor, backoff.retries, backoff.cap)
    if body.retry_delays is not None:
        return rules.check_retry_delays(body.retry_delays)
    return None


def _created(subscription: Subscription, spec: SubscriptionSpec) -> dict[str, Any]:
    return {**webhook_out(subscription), "secret": spec.secret}


async def register(
    svc: Services,
    principal: Principal,
    body: _SubscriptionFields,
    tracking_ids: list[str | None],
) -> list[tuple[Subscription, SubscriptionSpec]]:
    """Validate ``body`` and create one subscription per tracking id, all or nothing
    (the API's create routes and the dashboard's "Add Webhook")."""
    now = utcnow()
    await _check_auth_method(svc, principal.tenant_id, body.auth_method_id)
    custom = await _custom_types(svc, principal.tenant_id, body)
    specs = _specs(body, tracking_ids, svc, now, custom)
    created = await svc.store.create_subscriptions(
        tenant_id=principal.tenant_id,
        authenticator=principal.credential_id,
        specs=specs,
        now=now,
    )
    return list(zip(created, specs, strict=True))


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _doc("Webhook of similar subscription already exists")
}


@router.post(
    "/api/v1/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    responses=CONFLICT,
    summary="Register a webhook subscription for a parcel or shipment",
)
async def create_webhook(
    body: WebhookCreate,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    [(subscription, spec)] = await register(svc, principal, body, [body.trackingId])
    return Json(_created(subscription, spec), status_code=201)


@router.post(
    "/batch/api/v1/webhooks",
    status_code=201,
    response_model=list[WebhookCreated],
    responses=CONFLICT,
    summary="Register one subscription per tracking id (at most 100), all or nothing",
)
async def create_webhooks_batch(
    body: WebhookBatchCreate,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    created = await register(svc, principal, body, list(dict.fromkeys(body.trackingIds)))
    return Json([_created(sub, spec) for sub, spec in created], status_code=201)


def _parse_limit(limit: str | None) -> int:
    if limit is None:
        return DEFAULT_LIST
    # ASCII digits only: str.isdigit() also takes "¹" and "①", which int() refuses, and
    # "٣", which int() reads as 3.
    if not _LIMIT.fullmatch(limit) or not 1 <= int(limit) <= MAX_LIST:
        raise ValidationFailed(f"limit: must be a whole number from 1 to {MAX_LIST}")
    return int(limit)


@router.get(
    "/api/v1/webhooks",
    response_model=list[WebhookOut],
    summary="Active subscriptions, newest first (a bare JSON array, as Event Cast answers)",
)
async def list_webhooks(
    limit: str | None = Query(
        default=None, description=f"At most {MAX_LIST}; default {DEFAULT_LIST}"
    ),
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> StreamingResponse:
    count = _parse_limit(limit)
    pages = svc.store.list_subscriptions(
        tenant_id=principal.tenant_id, limit=count, now=utcnow(), fields=LISTED_SOURCES
    )

    async def body() -> AsyncIterator[bytes]:
        # A chunk per page of rows, so 150,000 subscriptions never sit in memory at once.
        opening = b"["
        async for page in pages:
            items = listed_webhooks(page)
            yield opening + items[1:-1]
            opening = b","
        yield b"]" if opening == b"," else b"[]"

    return StreamingResponse(body(), media_type="application/json")


WebhookId = Annotated[str, Path(description="The subscription id", max_length=100)]


@router.get("/api/v1/webhooks/{webhook_id}", response_model=WebhookOut, responses=NOT_FOUND)
async def get_webhook(
    webhook_id: WebhookId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    subscription = await svc.store.get_subscription(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, now=utcnow()
    )
    return Json(webhook_out(subscription))


@router.delete(
    "/api/v1/webhooks/{webhook_id}",
    status_code=204,
    responses={
        **NOT_FOUND,
        200: {"model": WebhookOut, "description": "Deleted; the webhook (includeWebhook=true)"},
        204: {"description": "Webhook unregistered and removed"},
    },
)
async def delete_webhook(
    webhook_id: WebhookId,
    includeWebhook: bool = Query(default=False),
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Response:
    subscription = await svc.store.delete_subscription(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, now=utcnow()
    )
    if includeWebhook:
        return Json(webhook_out(subscription))
    return Response(status_code=204)


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret (whsec_...); shown only here")
    previous_valid_until: str = Field(
        description="Until then, requests carry signatures by the old secret as well"
    )


# Receivers get a day to switch to the new secret while both sign (Standard Webhooks).
SECRET_OVERLAP = timedelta(hours=24)


@router.post(
    "/api/v1/webhooks/{webhook_id}/secret/rotate",
    response_model=SecretRotated,
    responses=NOT_FOUND,
    summary="Replace the signing secret; the old one keeps signing alongside for 24 h",
)
async def rotate_secret(
    webhook_id: WebhookId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    now = utcnow()
    secret = generate_secret()
    until = now + SECRET_OVERLAP
    await svc.store.rotate_secret(
        tenant_id=principal.tenant_id,
        subscription_id=webhook_id,
        secret=secret,
        previous_until=until,
        now=now,
    )
    return Json({"secret": secret, "previous_valid_until": format_time(until)})


class Accepted(BaseModel):
    message: str


@router.post(
    "/api/v1/webhooks/{webhook_id}/test",
    status_code=202,
    response_model=Accepted,
    responses=NOT_FOUND,
    summary="Send one dummy request to the subscription's URL, with no retry",
)
async def test_webhook(
    webhook_id: WebhookId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    push = await prepare_test_push(svc, principal, webhook_id)

    async def send() -> None:
        await push

    svc.spawn(send())
    return Json(
        {"message": "a dummy request will be sent to the registered webhook"}, status_code=202
    )


async def prepare_test_push(
    svc: Services, principal: Principal, webhook_id: str
) -> Coroutine[None, None, PushOutcome]:
    """Check the webhook and the caller's limit on tests in flight now; the returned
    coroutine sends the dummy request and frees the caller's slot."""
    now = utcnow()
    target = await svc.store.send_target(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, now=now
    )
    event_type = await sample_type_for(svc, principal.tenant_id, target.subscription)
    caller = caller_key(principal)
    svc.limiter.enter(caller, "test")

    async def push() -> PushOutcome:
        try:
            return await send_test_push(svc.sender, svc.authenticator, target, event_type, now)
        finally:
            svc.limiter.leave(caller, "test")

    return push()


async def sample_type_for(svc: Services, tenant_id: str, subscription: Subscription) -> EventType:
    names = {*subscription.event_types, *subscription.event_groups}
    custom = {}
    if not names <= {*EVENT_TYPES, *EVENT_GROUPS}:
        custom = {t.name: t for t in await svc.store.custom_event_types(tenant_id=tenant_id)}
    return sample_type(subscription, custom)


@router.post(
    "/api/v1/webhooks/{webhook_id}/fields/restore",
    response_model=WebhookOut,
    responses=NOT_FOUND,
    summary="Restore Default Data: send the event type's default payload again",
)
async def restore_fields(
    webhook_id: WebhookId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    subscription = await svc.store.set_fields(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, fields=None, now=utcnow()
    )
    return Json(webhook_out(subscription))


PREVIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    200: {
        "description": (
            "Exactly the body this subscription would receive. The header "
            "`X-Waypost-Filters-Match` says whether its filters would let the event through."
        ),
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


async def preview_body(
    svc: Services, tenant_id: str, webhook_id: str, data: dict[str, Any] | None = None
) -> tuple[bytes, bool]:
    """The body the webhook would receive for ``data`` (default: its type's example), and
    whether its filters let that event through: "Selected Data"."""
    now = utcnow()
    subscription = await svc.store.get_subscription(
        tenant_id=tenant_id, subscription_id=webhook_id, now=now
    )
    event_type = await sample_type_for(svc, tenant_id, subscription)
    return preview(
        subscription, event_type, event_type.example_copy() if data is None else data, now
    )


async def _preview(
    svc: Services, principal: Principal, webhook_id: str, data: dict[str, Any] | None
) -> Response:
    body, matches = await preview_body(svc, principal.tenant_id, webhook_id, data)
    return Response(
        body,
        media_type="application/json",
        headers={"X-Waypost-Filters-Match": "true" if matches else "false"},
    )


@router.get(
    "/api/v1/webhooks/{webhook_id}/preview",
    response_class=Response,
    responses=PREVIEW_RESPONSES,
    summary="Selected Data: what this subscription receives for its event type's example",
)
async def preview_example(
    webhook_id: WebhookId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Response:
    return await _preview(svc, principal, webhook_id, None)


@router.post(
    "/api/v1/webhooks/{webhook_id}/preview",
    response_class=Response,
    responses=PREVIEW_RESPONSES,
    summary="What this subscription would receive for the posted sample event data",
)
async def preview_sample(
    webhook_id: WebhookId,
    sample: Annotated[JsonObject, Body(description="Event data, as posted in `data`")],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Response:
    return await _preview(svc, principal, webhook_id, sample)


class WebhookPatch(BaseModel):
    model_config = _STRICT
    auth_method_id: str | None = Field(
        default=None, max_length=100, description="A JWT or OAuth2 method; null for none"
    )
    headers: list[HeaderIn] | None = Field(
        default=None, description="Replaces the static headers (write-only values)"
    )


@router.patch(
    "/api/v1/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=NOT_FOUND,
    summary="Change a subscription's authentication: its auth method and static headers",
)
async def patch_webhook(
    webhook_id: WebhookId,
    body: WebhookPatch,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    now = utcnow()
    current = await svc.store.get_subscription(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, now=now
    )
    method_id = current.auth_method_id
    if "auth_method_id" in body.model_fields_set:
        method_id = body.auth_method_id
        await _check_auth_method(svc, principal.tenant_id, method_id)
    headers = None
    if body.headers is not None:
        pairs = [(header.key, header.value) for header in body.headers]
        rules.check_headers(pairs, "headers")
        headers = [Header(key=key, value=value) for key, value in pairs]
    subscription = await svc.store.change_auth(
        tenant_id=principal.tenant_id,
        subscription_id=webhook_id,
        auth_method_id=method_id,
        headers=headers,
        now=now,
    )
    return Json(webhook_out(subscription))
