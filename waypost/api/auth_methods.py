"""Authentication methods: named, reusable JWT and OAuth2 settings, chosen per subscription.

Secrets (the JWT key, the client secret, header values) are write-only: accepted
here, used when sending, and never in any response.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, ConfigDict

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, OrjsonRoute
from waypost.domain.auth import (
    AuthMethod,
    OAuth2Method,
)
from waypost.domain.models import Principal, StoredAuthMethod
from waypost.errors import ValidationFailed
from waypost.resources import Services, services, utcnow
from waypost.services.auth_methods import AuthMethodIn, method_of, parse_auth_method

router = APIRouter(tags=["auth methods"], responses=COMMON_ERRORS, route_class=OrjsonRoute)


class AuthMethodOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    type: str
    created_at: str
    updated_at: str


def _as_input(name: str, method: AuthMethod) -> dict[str, Any]:
    """The stored method in the create body's shape, to apply a PATCH on top of."""
    if isinstance(method, OAuth2Method):
        return {
            "name": name,
            "type": "oauth2",
            "client_id": method.client_id,
            "client_secret": method.client_secret,
            "auth_url": method.auth_url,
            "path": method.path,
            "request_type": method.request_type,
            "scope": method.scope,
            "client_auth": method.client_auth,
            "headers": [{"key": key, "value": value} for key, value in method.headers],
        }
    shared = method.algorithm.startswith("HS")
    return {
        "name": name,
        "type": "jwt",
        "algorithm": method.algorithm,
        "signature": (
            {"key": method.key, "type": "base64" if method.key_is_base64 else "raw"}
            if shared
            else None
        ),
        "private_key": None if shared else method.key,
        "issuer": method.issuer,
        "audience": method.audience,
        "subject": method.subject,
        "lifetime_minutes": method.lifetime_minutes,
        "header": method.header,
        "prefix": method.prefix,
    }


def _out(stored: StoredAuthMethod) -> dict[str, Any]:
    return {
        "id": stored.id,
        "name": stored.name,
        "type": stored.kind,
        **stored.public,
        "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": stored.updated_at.isoformat().replace("+00:00", "Z"),
    }


MethodId = Annotated[str, Path(max_length=100)]


@router.post(
    "/api/v1/auth-methods",
    status_code=201,
    response_model=AuthMethodOut,
    responses={409: _doc("An auth method of that name exists")},
    summary="Create a JWT or OAuth2 method (secrets are write-only)",
)
async def create_auth_method(
    body: AuthMethodIn, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    method = method_of(body, allow_private=svc.settings.allow_private_targets)
    stored = await svc.auth_methods.create_auth_method(
        tenant_id=principal.tenant_id, name=body.name, method=method, now=utcnow()
    )
    return Json(_out(stored), status_code=201)


@router.get("/api/v1/auth-methods", response_model=list[AuthMethodOut])
async def list_auth_methods(
    principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    return Json(
        [
            _out(item)
            for item in await svc.auth_methods.list_auth_methods(tenant_id=principal.tenant_id)
        ]
    )


@router.get("/api/v1/auth-methods/{method_id}", response_model=AuthMethodOut, responses=NOT_FOUND)
async def get_auth_method(
    method_id: MethodId, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    stored = await svc.auth_methods.get_auth_method(
        tenant_id=principal.tenant_id, method_id=method_id
    )
    return Json(_out(stored))


@router.patch(
    "/api/v1/auth-methods/{method_id}",
    response_model=AuthMethodOut,
    responses={**NOT_FOUND, 409: _doc("An auth method of that name exists")},
    summary="Change some fields; omitted secrets keep their values",
)
async def update_auth_method(
    method_id: MethodId,
    changes: Annotated[dict[str, Any], Body(description="Fields of the create body to change")],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    current = await svc.auth_methods.get_auth_method(
        tenant_id=principal.tenant_id, method_id=method_id
    )
    if changes.get("type", current.kind) != current.kind:
        raise ValidationFailed("type: cannot change; create a new method instead")
    method = await svc.auth_methods.auth_method(tenant_id=principal.tenant_id, method_id=method_id)
    body = parse_auth_method({**_as_input(current.name, method), **changes})
    stored = await svc.auth_methods.update_auth_method(
        tenant_id=principal.tenant_id,
        method_id=method_id,
        name=body.name,
        method=method_of(body, allow_private=svc.settings.allow_private_targets),
        now=utcnow(),
    )
    return Json(_out(stored))


@router.delete(
    "/api/v1/auth-methods/{method_id}",
    status_code=204,
    responses={**NOT_FOUND, 409: _doc("A subscription still uses it")},
)
async def delete_auth_method(
    method_id: MethodId, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Response:
    await svc.auth_methods.delete_auth_method(
        tenant_id=principal.tenant_id, method_id=method_id, now=utcnow()
    )
    return Response(status_code=204)
