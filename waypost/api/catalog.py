"""The event catalog: event types and groups a subscription can name."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND
from waypost.api.responses import Json
from waypost.domain.catalog import (
    EVENT_GROUPS,
    EVENT_TYPES,
    EventType,
    group_members,
    suggest_types,
)
from waypost.errors import NotFound
from waypost.store.models import Principal

router = APIRouter(tags=["catalog"], responses=COMMON_ERRORS)


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
    }


@cache
def _catalog_body() -> bytes:
    """The built-in catalog never changes while running: serialise it once."""
    groups = [
        {
            "name": group.name,
            "description": group.description,
            "dialect": str(group.dialect),
            "event_types": list(group_members(group.name)),
        }
        for group in EVENT_GROUPS.values()
    ]
    body = {
        "items": [_event_type(t) for t in EVENT_TYPES.values()],
        "groups": groups,
        "next_cursor": None,
    }
    return orjson.dumps(body)


@router.get("/api/v1/event-types", response_model=EventTypeList)
async def list_event_types(_: Principal = Depends(limited)) -> Response:
    return Response(_catalog_body(), media_type="application/json")


@router.get("/api/v1/event-types/{name}", response_model=EventTypeOut, responses=NOT_FOUND)
async def get_event_type(
    name: Annotated[str, Path(max_length=100)], _: Principal = Depends(limited)
) -> Json:
    found = EVENT_TYPES.get(name)
    if found is None:
        hint = ", ".join(suggest_types(name))
        raise NotFound(
            f"unknown event type {name!r}" + (f" (did you mean: {hint})" if hint else "")
        )
    return Json(_event_type(found))
