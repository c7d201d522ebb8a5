"""Webhook subscriptions: Bring's Event Cast API, plus waypost's own fields."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, JsonObject, OrjsonRoute
from waypost.api.webhook_out import LISTED_SOURCES, listed_webhooks, webhook_out
from waypost.domain import subscriptions as rules
from waypost.domain.eventcast import format_time
from waypost.domain.models import (
    Header,
    Principal,
    Subscription,
    SubscriptionSpec,
)
from waypost.domain.signing import generate_secret
from waypost.errors import ValidationFailed
from waypost.resources import Services, services, utcnow
from waypost.services.subscriptions import (
    HeaderIn,
    SubscriptionFields,
    WebhookCreate,
    check_auth_method,
    prepare_test_push,
    preview_body,
    register,
)

router = APIRouter(tags=["webhooks"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

MAX_LIST = 150_000
DEFAULT_LIST = 10_000
_STRICT = ConfigDict(extra="forbid", strict=True)
_LIMIT = re.compile(r"[0-9]{1,6}")


class WebhookBatchCreate(SubscriptionFields):
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
    send_traceparent: bool
    created: str = Field(description="yyyy-MM-dd'T'HH:mm:ssZ, UTC")
    expiry: str | None = Field(description="yyyy-MM-dd'T'HH:mm:ssZ, UTC; null: no expiry")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signing secret (whsec_...); shown only in this response")


def _created(subscription: Subscription, spec: SubscriptionSpec) -> dict[str, Any]:
    return {**webhook_out(subscription), "secret": spec.secret}


async def _register(
    svc: Services,
    principal: Principal,
    body: SubscriptionFields,
    tracking_ids: list[str | None],
) -> list[tuple[Subscription, SubscriptionSpec]]:
    return await register(
        svc.subscription_setup,
        principal,
        body.as_input(),
        tracking_ids,
        now=utcnow(),
        allow_private=svc.settings.allow_private_targets,
        lifetime_days=svc.settings.subscription_lifetime_days,
    )


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
    [(subscription, spec)] = await _register(svc, principal, body, [body.trackingId])
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
    created = await _register(svc, principal, body, list(dict.fromkeys(body.trackingIds)))
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
    pages = svc.subscriptions.list_subscriptions(
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
    subscription = await svc.subscriptions.get_subscription(
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
    subscription = await svc.subscriptions.delete_subscription(
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
    await svc.subscriptions.rotate_secret(
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
    push = await prepare_test_push(
        svc.subscriptions,
        svc.limiter,
        svc.sender,
        svc.authenticator,
        principal,
        webhook_id,
        now=utcnow(),
    )

    async def send() -> None:
        await push

    svc.spawn(send())
    return Json(
        {"message": "a dummy request will be sent to the registered webhook"}, status_code=202
    )


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
    subscription = await svc.subscriptions.set_fields(
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


async def _preview(
    svc: Services, principal: Principal, webhook_id: str, data: dict[str, Any] | None
) -> Response:
    body, matches = await preview_body(
        svc.subscriptions, principal.tenant_id, webhook_id, data, now=utcnow()
    )
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
    send_traceparent: bool | None = Field(
        default=None, description="Send each attempt's W3C traceparent header; null: unchanged"
    )


@router.patch(
    "/api/v1/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=NOT_FOUND,
    summary="Change a subscription's authentication (its auth method and static headers) "
    "and whether it is sent traceparent",
)
async def patch_webhook(
    webhook_id: WebhookId,
    body: WebhookPatch,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    now = utcnow()
    current = await svc.subscriptions.get_subscription(
        tenant_id=principal.tenant_id, subscription_id=webhook_id, now=now
    )
    method_id = current.auth_method_id
    if "auth_method_id" in body.model_fields_set:
        method_id = body.auth_method_id
        await check_auth_method(svc.auth_methods, principal.tenant_id, method_id)
    headers = None
    if body.headers is not None:
        pairs = [(header.key, header.value) for header in body.headers]
        rules.check_headers(pairs, "headers")
        headers = [Header(key=key, value=value) for key, value in pairs]
    subscription = await svc.subscriptions.change_auth(
        tenant_id=principal.tenant_id,
        subscription_id=webhook_id,
        auth_method_id=method_id,
        headers=headers,
        now=now,
        send_traceparent=body.send_traceparent,
    )
    return Json(webhook_out(subscription))
