"""The event catalog: event types and groups a subscription can name."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, JsonObject, OrjsonRoute
from waypost.domain.catalog import (
    EVENT_GROUPS,
    EVENT_TYPES,
    EventType,
    frozen,
    group_members,
    schema_of,
    suggest_types,
)
from waypost.domain.models import Principal
from waypost.domain.payload import parse_fields
from waypost.errors import Conflict, NotFound, ValidationFailed
from waypost.resources import Services, services, utcnow

router = APIRouter(tags=["catalog"], responses=COMMON_ERRORS, route_class=OrjsonRoute)


class EventTypeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    name: str
    title: str
    group: str
    description: str
    example: dict[str, Any]
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of the data")
    default_fields: list[str]
    trigger_on_change: str | None
    trigger_entity: str | None


class EventGroupOut(BaseModel):
    name: str
    description: str
    dialect: str
    event_types: list[str]


class EventTypeList(BaseModel):
    items: list[EventTypeOut]
    groups: list[EventGroupOut]
    next_cursor: str | None


def _event_type(event_type: EventType) -> dict[str, Any]:
    return {
        "name": event_type.name,
        "title": event_type.title,
        "group": event_type.group,
        "description": event_type.description,
        "example": dict(event_type.example),
        "schema": dict(event_type.schema),
        "default_fields": list(event_type.default_fields),
        "trigger_on_change": event_type.trigger_on_change,
        "trigger_entity": event_type.trigger_entity,
    }


def _group_out(name: str, description: str, dialect: str, members: list[str]) -> dict[str, Any]:
    return {"name": name, "description": description, "dialect": dialect, "event_types": members}


@cache
def _builtin() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The built-in catalog never changes while running: build its listing once."""
    groups = [
        _group_out(group.name, group.description, str(group.dialect), list(group_members(name)))
        for name, group in EVENT_GROUPS.items()
    ]
    return [_event_type(t) for t in EVENT_TYPES.values()], groups


@cache
def _builtin_body() -> bytes:
    items, groups = _builtin()
    return orjson.dumps({"items": items, "groups": groups, "next_cursor": None})


@router.get("/api/v1/event-types", response_model=EventTypeList)
async def list_event_types(
    principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Response:
    """The built-in catalog, then the tenant's own types and groups."""
    custom = await svc.event_types.custom_event_types(tenant_id=principal.tenant_id)
    if not custom:
        return Response(_builtin_body(), media_type="application/json")
    items, groups = _builtin()
    members: dict[str, list[str]] = {}
    for event_type in custom:
        members.setdefault(event_type.group, []).append(event_type.name)
    known = {group["name"]: group for group in groups}
    custom_groups = [
        _group_out(name, "A group of the tenant's own event types", "custom", names)
        for name, names in members.items()
        if name not in known
    ]
    extended = [
        {**group, "event_types": [*group["event_types"], *members.get(group["name"], [])]}
        for group in groups
    ]
    body = {
        "items": [*items, *(_event_type(t) for t in custom)],
        "groups": [*extended, *custom_groups],
        "next_cursor": None,
    }
    return Response(orjson.dumps(body), media_type="application/json")


EventTypeName = Annotated[str, Path(max_length=100)]


@router.get("/api/v1/event-types/{name}", response_model=EventTypeOut, responses=NOT_FOUND)
async def get_event_type(
    name: EventTypeName, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    found = EVENT_TYPES.get(name)
    if found is None:
        custom = await svc.event_types.custom_event_types(
            tenant_id=principal.tenant_id, names=[name]
        )
        found = custom[0] if custom else None
    if found is None:
        hint = ", ".join(suggest_types(name))
        raise NotFound(
            f"unknown event type {name!r}" + (f" (did you mean: {hint})" if hint else "")
        )
    return Json(_event_type(found))


_NAME = r"^[a-z][a-z0-9_]*$"


class EventTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    group: str = Field(
        min_length=1,
        max_length=100,
        pattern=_NAME,
        description="A catalog group (order, driver, ...) or a new one of the tenant's",
    )
    title: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=1000)
    example: JsonObject = Field(description="A realistic payload of this type")
    schema_: JsonObject | None = Field(
        default=None,
        alias="schema",
        description="JSON Schema of the data; default: the example's top-level fields",
    )
    default_fields: list[str] | None = Field(
        default=None, description="Paths sent by default; default: the example's top-level keys"
    )
    trigger_on_change: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Fire only when this top-level field of the entity changes "
        "(see POST /api/v1/entities/{kind}/{id})",
    )
    trigger_entity: str | None = Field(
        default=None,
        max_length=100,
        pattern=_NAME,
        description="The kind of entity that field belongs to; default: the type's group",
    )


@router.post(
    "/api/v1/event-types",
    status_code=201,
    response_model=EventTypeOut,
    responses={409: _doc("An event type of that name exists")},
    summary="Register one of the tenant's own event types",
)
async def create_event_type(
    body: EventTypeIn, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    if body.name in EVENT_TYPES:
        raise Conflict(f"name: {body.name!r} is a built-in event type")
    schema = body.schema_ if body.schema_ is not None else schema_of(body.example)
    if schema.get("type", "object") != "object":
        raise ValidationFailed('schema: must describe an object ("type": "object")')
    fields = parse_fields(body.default_fields) if body.default_fields is not None else None
    event_type = EventType(
        name=body.name,
        title=body.title or body.name.replace("_", " ").capitalize(),
        group=body.group,
        description=body.description,
        example=frozen(body.example),
        schema=frozen(schema),
        default_fields=fields if fields is not None else tuple(body.example),
        trigger_on_change=body.trigger_on_change,
        trigger_entity=(body.trigger_entity or body.group) if body.trigger_on_change else None,
    )
    await svc.event_types.create_event_type(
        tenant_id=principal.tenant_id, event_type=event_type, now=utcnow()
    )
    return Json(_event_type(event_type), status_code=201)


@router.delete(
    "/api/v1/event-types/{name}",
    status_code=204,
    responses={**NOT_FOUND, 409: _doc("A subscription still names it")},
    summary="Delete one of the tenant's own event types",
)
async def delete_event_type(
    name: EventTypeName, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Response:
    if name in EVENT_TYPES:
        raise ValidationFailed(f"name: {name!r} is built in and cannot be deleted")
    await svc.event_types.delete_event_type(tenant_id=principal.tenant_id, name=name, now=utcnow())
    return Response(status_code=204)
