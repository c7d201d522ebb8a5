"""Entity snapshots: the events that fire only when a watched field changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS
from waypost.api.responses import Json, JsonObject, OrjsonRoute
from waypost.domain.models import Principal
from waypost.resources import Services, services, utcnow
from waypost.services.ingest import derive_entity_events

router = APIRouter(tags=["events"], responses=COMMON_ERRORS, route_class=OrjsonRoute)


class EmittedEvent(BaseModel):
    id: str
    type: str


class SnapshotAccepted(BaseModel):
    events: list[EmittedEvent]


@router.post(
    "/api/v1/entities/{kind}/{entity_id}",
    status_code=202,
    response_model=SnapshotAccepted,
    summary="Post an entity's current state; emits the events its changes trigger",
    description=(
        "Event types with `trigger_on_change` watch one field of one kind of entity "
        "(`trigger_entity`) and fire when it takes a new, non-null value: "
        "`task_assigned_to_dp` fires when an `order`'s `fleet_id` changes, and not for the "
        "order's first snapshot, as Bringg's rule says. The event's data is the snapshot."
    ),
)
async def post_snapshot(
    kind: Annotated[str, Path(max_length=100)],
    entity_id: Annotated[str, Path(min_length=1, max_length=250)],
    snapshot: Annotated[JsonObject, Body(description="The entity as it is now")],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    emitted = await derive_entity_events(
        svc.routing, principal.tenant_id, kind, entity_id, snapshot, utcnow()
    )
    if emitted:
        svc.work_available.set()
    return Json(
        {"events": [{"id": event_id, "type": name} for event_id, name in emitted]},
        status_code=202,
    )
