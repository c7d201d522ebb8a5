"""What every API route depends on: the caller, authenticated, limited and counted.

The running services themselves, and the clock, are ``waypost.resources``'s.
"""

from __future__ import annotations

from functools import partial

from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from waypost.domain.keys import digest
from waypost.domain.models import Principal
from waypost.domain.scopes import allows, read_access_token
from waypost.errors import AuthenticationFailed, Forbidden
from waypost.resources import Services, running_services
from waypost.services.limits import caller_key

MISSING = "Missing authentication headers"
ACCESS_TOKEN_KEY = "oauth-access"
JWT_PREFIX = "eyJ"
"""Access tokens are JWTs; API keys start with ``wp_``."""
RELEASE_SLOT = "release_concurrency_slot"
"""The request state's key of the callable that frees the caller's concurrency slot."""


async def _principal_for_key(svc: Services, key: str) -> Principal | None:
    key_digest = digest(key)
    cached, principal = svc.principals.get(key_digest)
    if not cached:
        principal = await svc.callers.principal_for_key(key_digest)
        svc.principals.put(key_digest, principal)
    return principal


async def _principal_for_access_token(svc: Services, token: str) -> Principal:
    grant = read_access_token(svc.callers.derived_key(ACCESS_TOKEN_KEY), token)
    if grant is None:
        raise AuthenticationFailed("the access token is expired or not valid")
    cache_key = f"client:{grant.client_id}"
    cached, active = svc.principals.get(cache_key)
    if not cached:
        client = await svc.callers.api_client(grant.client_id)
        active = (
            Principal(tenant_id=client.tenant_id, credential_id=client.id, user_id=None)
            if client is not None
            else None
        )
        svc.principals.put(cache_key, active)
    if active is None or active.tenant_id != grant.tenant_id:
        raise AuthenticationFailed("the API client of this token has been revoked")
    return Principal(
        tenant_id=grant.tenant_id,
        credential_id=grant.client_uuid,
        user_id=None,
        scopes=grant.scopes,
    )


async def authenticate(request: Request) -> Principal:
    """``Authorization: Bearer <key>``, or Bring's ``X-Mybring-API-Uid`` + ``X-Mybring-API-Key``."""
    svc = running_services(request)
    authorization = request.headers.get("authorization")
    uid = request.headers.get("x-mybring-api-uid")
    bring_key = request.headers.get("x-mybring-api-key")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Authorization must be 'Bearer <api key>'")
        if token.strip().startswith(JWT_PREFIX):
            return await _principal_for_access_token(svc, token.strip())
        principal = await _principal_for_key(svc, token.strip())
        if principal is None:
            raise AuthenticationFailed("invalid or revoked API key")
        return principal
    if uid and bring_key:
        principal = await _principal_for_key(svc, bring_key.strip())
        user = await svc.callers.user_by_email(uid)
        if principal is None or user is None or user.tenant_id != principal.tenant_id:
            raise AuthenticationFailed("X-Mybring-API-Uid and X-Mybring-API-Key do not match")
        return Principal(
            tenant_id=principal.tenant_id,
            credential_id=principal.credential_id,
            user_id=user.id,
            scopes=principal.scopes,
        )
    raise AuthenticationFailed(MISSING)


async def limited(request: Request, principal: Principal = Depends(authenticate)) -> Principal:
    """The caller, if its scopes allow the request, counted against the tenant's rate and
    the caller's concurrency limit (``SlotReleaseMiddleware`` frees the slot)."""
    svc = running_services(request)
    missing = allows(principal.scopes, request.method, request.scope["path"])
    if missing == "API key":
        raise Forbidden("only an API key may do this, not an OAuth token")
    if missing is not None:
        raise Forbidden(f"this token lacks the {missing} scope")
    svc.limiter.take_token(principal.tenant_id)
    caller = caller_key(principal)
    svc.limiter.enter(caller, "api")
    request.scope["state"][RELEASE_SLOT] = partial(svc.limiter.leave, caller, "api")
    return principal


class SlotReleaseMiddleware:
    """Frees the concurrency slot ``limited`` took once the app is done with the request,
    answered or failed. A dependency with ``yield`` would do the same at some 70 µs more
    per request (FastAPI's exit stack and cancel scope)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send)
        finally:
            release = state.pop(RELEASE_SLOT, None)
            if release is not None:
                release()
