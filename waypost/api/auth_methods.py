"""Authentication methods: named, reusable JWT and OAuth2 settings, chosen per subscription.

Secrets (the JWT key, the client secret, header values) are write-only: accepted
here, used when sending, and never in any response.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, OrjsonRoute
from waypost.domain.auth import (
    AuthMethod,
    ClientAuth,
    JwtAlgorithm,
    JwtMethod,
    OAuth2Method,
    RequestType,
    check_jwt,
    check_oauth2,
)
from waypost.errors import ValidationFailed
from waypost.resources import Services, services, utcnow
from waypost.store.auth_methods import StoredAuthMethod
from waypost.store.models import Principal

router = APIRouter(tags=["auth methods"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

_STRICT = ConfigDict(extra="forbid", strict=True)


class SignatureIn(BaseModel):
    """Bringg's ``"signature": {"key", "type": "base64"}``."""

    model_config = _STRICT
    key: str = Field(min_length=1, max_length=4096, description="Write-only")
    type: Literal["raw", "base64"] = "raw"


class JwtIn(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=100)
    type: Literal["jwt"]
    algorithm: JwtAlgorithm = "HS256"
    signature: SignatureIn | None = Field(default=None, description="The shared key (HS*)")
    private_key: str | None = Field(
        default=None, max_length=20_000, description="PEM private key (RS256, ES256); write-only"
    )
    issuer: str | None = Field(default=None, max_length=500)
    audience: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=500)
    lifetime_minutes: int = Field(default=20160, ge=1, le=527_040)
    header: str = Field(default="Authorization", max_length=100, description="An HTTP token")
    prefix: str = Field(default="Bearer", max_length=50, description="No control characters")


class HeaderIn(BaseModel):
    model_config = _STRICT
    key: str = Field(max_length=100, description="An HTTP token")
    value: str = Field(
        max_length=1024, description="Write-only. No control characters but horizontal tab."
    )


class OAuth2In(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=100)
    type: Literal["oauth2"]
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: str = Field(min_length=1, max_length=2000, description="Write-only")
    auth_url: str = Field(min_length=1, max_length=500, description="Base URL, e.g. https://x.io")
    path: str = Field(default="/oauth/token", max_length=500)
    request_type: RequestType = Field(default="form", description="How the token request is sent")
    scope: str | None = Field(default=None, max_length=1000)
    client_auth: ClientAuth = Field(
        default="body", description="Client credentials in the body, or HTTP Basic"
    )
    headers: list[HeaderIn] = Field(
        default_factory=list, max_length=20, description="Sent with every webhook"
    )


AuthMethodIn = Annotated[JwtIn | OAuth2In, Field(discriminator="type")]
_ADAPTER: TypeAdapter[JwtIn | OAuth2In] = TypeAdapter(AuthMethodIn)


def parse_auth_method(data: dict[str, Any]) -> JwtIn | OAuth2In:
    """A create body given as a dict (a PATCH merged onto the stored method, the
    dashboard's form), or ``ValidationFailed`` naming the first bad field."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        # The first part of the location is the union member ("jwt", "oauth2").
        where = ".".join(str(part) for part in error["loc"][1:])
        raise ValidationFailed(f"{where}: {error['msg']}") from exc


class AuthMethodOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    type: str
    created_at: str
    updated_at: str


def method_of(body: JwtIn | OAuth2In, *, allow_private: bool) -> AuthMethod:
    if isinstance(body, JwtIn):
        shared = body.algorithm.startswith("HS")
        if shared and body.signature is None:
            raise ValidationFailed(f"signature: required for {body.algorithm}")
        if not shared and body.private_key is None:
            raise ValidationFailed(
                f"private_key: a PEM private key is required for {body.algorithm}"
            )
        return check_jwt(
            JwtMethod(
                algorithm=body.algorithm,
                key=body.signature.key if shared and body.signature else body.private_key or "",
                key_is_base64=bool(shared and body.signature and body.signature.type == "base64"),
                issuer=body.issuer,
                audience=body.audience,
                subject=body.subject,
                lifetime_minutes=body.lifetime_minutes,
                header=body.header,
                prefix=body.prefix,
            )
        )
    return check_oauth2(
        OAuth2Method(
            client_id=body.client_id,
            client_secret=body.client_secret,
            auth_url=body.auth_url,
            path=body.path,
            request_type=body.request_type,
            scope=body.scope,
            client_auth=body.client_auth,
            headers=tuple((header.key, header.value) for header in body.headers),
        ),
        allow_private=allow_private,
    )


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
    stored = await svc.store.create_auth_method(
        tenant_id=principal.tenant_id, name=body.name, method=method, now=utcnow()
    )
    return Json(_out(stored), status_code=201)


@router.get("/api/v1/auth-methods", response_model=list[AuthMethodOut])
async def list_auth_methods(
    principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    return Json(
        [_out(item) for item in await svc.store.list_auth_methods(tenant_id=principal.tenant_id)]
    )


@router.get("/api/v1/auth-methods/{method_id}", response_model=AuthMethodOut, responses=NOT_FOUND)
async def get_auth_method(
    method_id: MethodId, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    stored = await svc.store.get_auth_method(tenant_id=principal.tenant_id, method_id=method_id)
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
    current = await svc.store.get_auth_method(tenant_id=principal.tenant_id, method_id=method_id)
    if changes.get("type", current.kind) != current.kind:
        raise ValidationFailed("type: cannot change; create a new method instead")
    method = await svc.store.auth_method(tenant_id=principal.tenant_id, method_id=method_id)
    body = parse_auth_method({**_as_input(current.name, method), **changes})
    stored = await svc.store.update_auth_method(
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
    await svc.store.delete_auth_method(
        tenant_id=principal.tenant_id, method_id=method_id, now=utcnow()
    )
    return Response(status_code=204)
