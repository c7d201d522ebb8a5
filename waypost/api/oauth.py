"""OAuth 2.0 access to the API: clients, and their client-credentials tokens with scopes.

The token endpoint is authlib's authorization server (its client-credentials
grant, client authentication, errors and response headers) behind a small
Starlette adapter. authlib's server is synchronous, so the client is read from
the store before authlib runs. Access tokens are signed JWTs carrying the
tenant and the granted scopes: any api process checks them without a lookup
(plus a revocation check cached for a few seconds, as for API keys).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Request,
    scope_to_list,
)
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import ACCESS_TOKEN_KEY, limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND
from waypost.api.responses import Json, OrjsonRoute
from waypost.domain.keys import digest
from waypost.domain.models import ApiClient, Principal
from waypost.domain.scopes import (
    ACCESS_TOKEN_SECONDS,
    SCOPES,
    AccessGrant,
    basic_credentials,
    issue_access_token,
)
from waypost.errors import Forbidden, ValidationFailed
from waypost.resources import Services, services, utcnow

router = APIRouter(tags=["oauth"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

# authlib logs issued tokens at DEBUG; tokens are secrets.
logging.getLogger("authlib").setLevel(logging.INFO)


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, record: ApiClient) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.record.scopes)
        return " ".join(item for item in scope_to_list(scope) if item in self.record.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(digest(client_secret), self.record.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _Grant.TOKEN_ENDPOINT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return bool(grant_type == "client_credentials")


class _Grant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
    ]


class _FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self._form = form
        self._args = dict(request.query_params)
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Server(AuthorizationServer):  # type: ignore[misc]
    """One per token request: it knows the one client the request names."""

    def __init__(self, client: ApiClient | None, key: bytes, now: datetime) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self._client = client
        self._key = key
        self._now = now
        self.register_grant(_Grant)
        self.register_token_generator("default", self._issue)

    def query_client(self, client_id: str) -> _Client | None:
        if self._client is not None and self._client.client_id == client_id:
            return _Client(self._client)
        return None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Tokens are signed, not stored."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return Json(body, status_code=status, headers=dict(headers))

    def _issue(self, *, client: _Client, scope: str | None, **_: Any) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if scope and not granted:
            raise InvalidScopeError()
        grant = AccessGrant(
            client_id=client.record.client_id,
            client_uuid=client.record.id,
            tenant_id=client.record.tenant_id,
            scopes=frozenset(granted.split()),
        )
        return {
            "access_token": issue_access_token(self._key, grant, now=self._now),
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": granted,
        }


def _client_id(request: Request, form: dict[str, str]) -> str | None:
    credentials = basic_credentials(request.headers.get("authorization", ""))
    if credentials is not None:
        return credentials[0] or None
    return form.get("client_id")


class AccessTokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorOut(BaseModel):
    """RFC 6749 section 5.2: the token endpoint's own error shape."""

    error: str
    error_description: str | None = None
    error_uri: str | None = None


_OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OAuthErrorOut, "description": text}
    for status, text in (
        (400, "invalid_request, unsupported_grant_type, invalid_scope, ..."),
        (401, "invalid_client"),
    )
}


@router.post(
    "/oauth/token",
    response_model=AccessTokenOut,
    responses=_OAUTH_ERRORS,
    summary="The client-credentials grant: an access token with the client's scopes",
    description=(
        "Form-encoded, as RFC 6749 says: `grant_type=client_credentials`, optional `scope`, "
        "and the client's credentials by HTTP Basic or as `client_id`/`client_secret`."
    ),
)
async def token(request: Request, svc: Services = Depends(services)) -> Response:
    form = dict(parse_qsl((await request.body()).decode(errors="replace")))
    name = _client_id(request, form)
    client = await svc.api_clients.api_client(name) if name else None
    server = _Server(client, svc.callers.derived_key(ACCESS_TOKEN_KEY), utcnow())
    response: Response = server.create_token_response(_FormRequest(request, form))
    return response


class ApiClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES), description=", ".join(SCOPES))


class ApiClientOut(BaseModel):
    id: str
    name: str
    client_id: str
    scopes: list[str]
    created_at: str
    revoked_at: str | None


class ApiClientCreated(ApiClientOut):
    client_secret: str = Field(description="Shown only in this response")


def _api_key_only(principal: Principal) -> None:
    if principal.scopes is not None:
        raise Forbidden("API clients are managed with an API key, not an OAuth token")


def _out(client: ApiClient) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "client_id": client.client_id,
        "scopes": list(client.scopes),
        "created_at": client.created_at.isoformat().replace("+00:00", "Z"),
        "revoked_at": client.revoked_at.isoformat().replace("+00:00", "Z")
        if client.revoked_at
        else None,
    }


@router.post("/api/v1/api-clients", status_code=201, response_model=ApiClientCreated)
async def create_api_client(
    body: ApiClientIn, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    _api_key_only(principal)
    unknown = [scope for scope in body.scopes if scope not in SCOPES]
    if unknown:
        raise ValidationFailed(f"scopes: unknown {unknown[0]!r} (known: {', '.join(SCOPES)})")
    secret = secrets.token_urlsafe(32)
    client = await svc.api_clients.create_api_client(
        tenant_id=principal.tenant_id,
        client_id=f"wpc_{secrets.token_hex(12)}",
        secret_digest=digest(secret),
        name=body.name,
        scopes=tuple(dict.fromkeys(body.scopes)),
        now=utcnow(),
    )
    return Json({**_out(client), "client_secret": secret}, status_code=201)


@router.get("/api/v1/api-clients", response_model=list[ApiClientOut])
async def list_api_clients(
    principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    _api_key_only(principal)
    return Json(
        [
            _out(item)
            for item in await svc.api_clients.list_api_clients(tenant_id=principal.tenant_id)
        ]
    )


@router.delete("/api/v1/api-clients/{client_uuid}", status_code=204, responses=NOT_FOUND)
async def revoke_api_client(
    client_uuid: Annotated[str, Path(max_length=100)],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Response:
    _api_key_only(principal)
    await svc.api_clients.revoke_api_client(
        tenant_id=principal.tenant_id, client_uuid=client_uuid, now=utcnow()
    )
    return Response(status_code=204)
