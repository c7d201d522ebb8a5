"""Event ingest: one event or a batch of up to 1,000, durable when answered 202."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response

from waypost.api.deps import authenticate, limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND
from waypost.api.responses import Json, JsonObject, OrjsonRoute
from waypost.domain.json_numbers import parse_json
from waypost.domain.models import DeliverySummary, Principal
from waypost.resources import Services, running_services, services, utcnow
from waypost.services.ingest import EventInput, ingest_events

router = APIRouter(tags=["events"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

MAX_BATCH = 1000


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: str = Field(min_length=1, max_length=100, description="An event type of the catalog")
    data: JsonObject = Field(description="The JSON object subscribers receive")
    trackingId: str | None = Field(
        default=None, min_length=1, max_length=250, description="The entity the event is about"
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Repeating a post with the same key returns the first event's id",
    )

    def as_input(self) -> EventInput:
        return EventInput(
            type=self.type,
            data=self.data,
            tracking_id=self.trackingId,
            idempotency_key=self.idempotency_key,
        )


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class EventAccepted(BaseModel):
    id: str


class EventBatchAccepted(BaseModel):
    ids: list[str]


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    webhook_id: str
    event_type: str
    tracking_id: str | None
    status: str
    attempt_count: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    finished_at: str | None
    delivery_id: str | None = None
    error_message: str | None = None


class EventOut(BaseModel):
    id: str
    type: str
    trackingId: str | None
    data: dict[str, Any]
    idempotency_key: str | None
    created_at: str
    deliveries: list[DeliveryOut]


def iso(moment: Any) -> str | None:
    """waypost's own resources use ISO 8601 UTC with ``Z``."""
    if moment is None:
        return None
    return str(moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def delivery_out(delivery: DeliverySummary) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "webhook_id": delivery.webhook_id,
        "event_type": delivery.event_type,
        "tracking_id": delivery.tracking_id,
        "status": str(delivery.status),
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "finished_at": iso(delivery.finished_at),
    }
    if delivery.ack_delivery_id is not None or delivery.ack_error_message is not None:
        body["delivery_id"] = delivery.ack_delivery_id
        body["error_message"] = delivery.ack_error_message
    return body


async def _accept(
    svc: Services, principal: Principal, inputs: list[EventInput], request: Request
) -> list[str]:
    # An in-process dispatcher is handed the deliveries, or woken, by the intake.
    if not svc.tracing.enabled:
        return await ingest_events(
            svc.routing, svc.intake, principal.tenant_id, inputs, utcnow(), svc.metrics
        )
    with svc.tracing.ingest("ingest", request.headers):
        return await ingest_events(
            svc.routing, svc.intake, principal.tenant_id, inputs, utcnow(), svc.metrics, svc.tracing
        )


async def _received_body(request: Request) -> Any:
    """The body as FastAPI hands it to validation: parsed if its content type is JSON,
    else the bytes (which no model accepts); a malformed JSON body is a 400."""
    try:
        body = await request.body()
    except Exception as exc:  # a client gone mid-body, as FastAPI answers it
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
    if not body:
        return PydanticUndefined  # FastAPI's "no body": "Field required"
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    kind, _, subtype = content_type.partition("/")
    if (
        kind != "application"
        or "/" in subtype
        or not (subtype == "json" or subtype.endswith("+json"))
    ):
        return body
    try:
        return parse_json(body)
    except orjson.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc


class SingleEventRoute(APIRoute):
    """Ingest's hot route without FastAPI's per-request dependency solving (about a third
    of the route's CPU in-process): the same steps in FastAPI's order (read the body,
    authenticate and limit the caller, validate the body with FastAPI's own validator,
    call the endpoint), so the errors and the OpenAPI schema are the declared route's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        body_fields = self.dependant.body_params

        async def route(request: Request) -> Response:
            received = await _received_body(request)
            principal = await limited(request, await authenticate(request))
            values, errors = await request_body_to_args(
                body_fields, received, embed_body_fields=False
            )
            if errors:
                raise RequestValidationError(errors, body=received)
            return await post_event(values["body"], request, principal, running_services(request))

        return route


async def post_event(
    body: EventIn,
    request: Request,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    ids = await _accept(svc, principal, [body.as_input()], request)
    return Json({"id": ids[0]}, status_code=202)


router.add_api_route(
    "/api/v1/events",
    post_event,
    methods=["POST"],
    status_code=202,
    response_model=EventAccepted,
    route_class_override=SingleEventRoute,
)


@router.post("/api/v1/events/batch", status_code=202, response_model=EventBatchAccepted)
async def post_events(
    body: EventBatchIn,
    request: Request,
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    ids = await _accept(svc, principal, [item.as_input() for item in body.events], request)
    return Json({"ids": ids}, status_code=202)


@router.get("/api/v1/events/{event_id}", response_model=EventOut, responses=NOT_FOUND)
async def get_event(
    event_id: Annotated[str, Path(max_length=100)],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    event = await svc.history.get_event(tenant_id=principal.tenant_id, event_id=event_id)
    return Json(
        {
            "id": event.id,
            "type": event.type,
            "trackingId": event.tracking_id,
            "data": orjson.loads(event.data),
            "idempotency_key": event.idempotency_key,
            "created_at": iso(event.created_at),
            "deliveries": [delivery_out(delivery) for delivery in event.deliveries],
        }
    )
