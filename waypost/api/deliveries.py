"""Delivery history: list, inspect with every attempt, retry one, replay many."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.events import DeliveryOut, delivery_out, iso
from waypost.api.responses import Json, OrjsonRoute
from waypost.domain.models import Attempt, DeliveryStatus, Principal
from waypost.resources import Services, services, utcnow
from waypost.services.deliveries import replay, retry
from waypost.services.inputs import Instant
from waypost.store.history import DeliveryFilter

router = APIRouter(tags=["deliveries"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

DeliveryId = Annotated[str, Path(max_length=100)]


class AttemptOut(BaseModel):
    number: int
    started_at: str
    duration_ms: float
    status_code: int | None
    response_headers: dict[str, str]
    response_excerpt: str
    error: str | None
    request_headers: list[tuple[str, str]] | None = Field(
        description="The headers sent, in order; secret values (credentials, signatures, "
        "static headers) as a mask. null for attempts made before headers were recorded"
    )


class DeliveryDetail(DeliveryOut):
    attempts: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class ReplayIn(BaseModel):
    # Not strict: the times arrive as ISO 8601 strings.
    model_config = ConfigDict(extra="forbid")
    since: Instant | None = Field(default=None, description="Created at or after")
    until: Instant | None = Field(default=None, description="Created before")
    webhook_id: str | None = Field(default=None, max_length=100)
    event_types: list[str] = Field(default_factory=list, max_length=200)


class ReplayOut(BaseModel):
    replayed: int


def _attempt_out(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "started_at": iso(attempt.started_at),
        "duration_ms": round(attempt.duration_ms, 3),
        "status_code": attempt.status_code,
        "response_headers": attempt.response_headers,
        "response_excerpt": attempt.response_excerpt,
        "error": attempt.error,
        "request_headers": (
            [list(pair) for pair in attempt.request_headers]
            if attempt.request_headers is not None
            else None
        ),
    }


@router.get("/api/v1/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    status: DeliveryStatus | None = None,
    webhook_id: Annotated[str | None, Query(max_length=100)] = None,
    event_type: Annotated[str | None, Query(max_length=100)] = None,
    tracking_id: Annotated[str | None, Query(max_length=250)] = None,
    since: Annotated[Instant | None, Query(description="ISO 8601, created at or after")] = None,
    until: Annotated[Instant | None, Query(description="ISO 8601, created before")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    selection = DeliveryFilter(
        status=status,
        webhook_id=webhook_id,
        event_types=(event_type,) if event_type else (),
        tracking_id=tracking_id,
        since=since,
        until=until,
    )
    items, next_cursor = await svc.history.list_deliveries(
        tenant_id=principal.tenant_id, selection=selection, cursor=cursor, limit=limit
    )
    return Json({"items": [delivery_out(item) for item in items], "next_cursor": next_cursor})


@router.get("/api/v1/deliveries/{delivery_id}", response_model=DeliveryDetail, responses=NOT_FOUND)
async def get_delivery(
    delivery_id: DeliveryId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    delivery, attempts = await svc.history.get_delivery(
        tenant_id=principal.tenant_id, delivery_id=delivery_id
    )
    return Json(
        {**delivery_out(delivery), "attempts": [_attempt_out(attempt) for attempt in attempts]}
    )


@router.post(
    "/api/v1/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveryOut,
    responses={**NOT_FOUND, 409: _doc("The delivery is not failed or cancelled")},
)
async def retry_delivery(
    delivery_id: DeliveryId,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    delivery = await retry(
        svc.history, svc.work_available, principal.tenant_id, delivery_id, now=utcnow()
    )
    return Json(delivery_out(delivery), status_code=202)


@router.post("/api/v1/deliveries/replay", status_code=202, response_model=ReplayOut)
async def replay_deliveries(
    body: ReplayIn,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    selection = DeliveryFilter(
        webhook_id=body.webhook_id,
        event_types=tuple(body.event_types),
        since=body.since,
        until=body.until,
    )
    replayed = await replay(
        svc.history, svc.work_available, principal.tenant_id, selection, now=utcnow()
    )
    return Json({"replayed": replayed}, status_code=202)


class MappingOut(BaseModel):
    trackingId: str
    webhook_id: str
    delivery_id: str
    delivery_cost: int | None
    green_delivery: bool | None
    fleet_extras: dict[str, Any] | None
    source_delivery_id: str
    updated_at: str


class MappingPage(BaseModel):
    items: list[MappingOut]
    next_cursor: str | None


@router.get(
    "/api/v1/mappings",
    response_model=MappingPage,
    tags=["deliveries"],
    summary="Which receiver's delivery_id belongs to an order, per subscription",
)
async def list_mappings(
    trackingId: Annotated[
        str, Query(min_length=1, max_length=250, description="The order: tracking id or data id")
    ],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    found = await svc.history.delivery_mappings(
        tenant_id=principal.tenant_id, order_keys=[trackingId]
    )
    items = [
        {
            "trackingId": mapping.tracking_id,
            "webhook_id": mapping.webhook_id,
            "delivery_id": mapping.delivery_id,
            "delivery_cost": mapping.delivery_cost,
            "green_delivery": mapping.green_delivery,
            "fleet_extras": mapping.fleet_extras,
            "source_delivery_id": mapping.source_delivery_id,
            "updated_at": iso(mapping.updated_at),
        }
        for mapping in found
    ]
    return Json({"items": items, "next_cursor": None})
