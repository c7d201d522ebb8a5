"""OAuth 2.0 scopes of the API, and which one each route needs.

API keys have full access; an OAuth client's token carries the scopes it was
granted. The rule is decided here for every route at once, from the method and
the path, so no route can be added without one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import jwt

from waypost.errors import AuthenticationFailed

REPORT_READ = "report_read"
WEBHOOKS_READ = "webhooks_read"
WEBHOOKS_WRITE = "webhooks_write"
EVENTS_WRITE = "events_write"
SCOPES = (REPORT_READ, WEBHOOKS_READ, WEBHOOKS_WRITE, EVENTS_WRITE)

_REPORT_PATHS = ("/services/get_undelivered_webhooks", "/api/v1/reports")
_EVENT_WRITES = ("/api/v1/events", "/api/v1/entities/")
_CLIENT_ADMIN = "/api/v1/api-clients"


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs; ``None`` when only an API key may do it."""
    if path.startswith(_CLIENT_ADMIN):
        return None  # managing OAuth clients is for API keys only
    if path.startswith(_REPORT_PATHS):
        return REPORT_READ
    if method in ("GET", "HEAD"):
        return WEBHOOKS_READ
    if path.startswith(_EVENT_WRITES):
        return EVENTS_WRITE
    return WEBHOOKS_WRITE


def allows(granted: frozenset[str] | None, method: str, path: str) -> str | None:
    """``None`` if ``granted`` (``None``: full access) may make the request, else the
    missing scope (or ``"API key"`` when no scope is enough)."""
    if granted is None:
        return None
    needed = required_scope(method, path)
    if needed is None:
        return "API key"
    return None if needed in granted else needed


ACCESS_TOKEN_SECONDS = 3600


@dataclass(frozen=True, kw_only=True)
class AccessGrant:
    """What an access token stands for."""

    client_id: str
    client_uuid: str
    tenant_id: str
    scopes: frozenset[str]


def issue_access_token(key: bytes, grant: AccessGrant, *, now: datetime) -> str:
    issued = int(now.timestamp())
    claims = {
        "sub": grant.client_id,
        "cid": grant.client_uuid,
        "tid": grant.tenant_id,
        "scope": " ".join(sorted(grant.scopes)),
        "iat": issued,
        "exp": issued + ACCESS_TOKEN_SECONDS,
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm="HS256")


def read_access_token(key: bytes, token: str) -> AccessGrant | None:
    """What a valid access token grants, or ``None`` (expired, altered, not one)."""
    try:
        claims = jwt.decode(
            token, key, algorithms=["HS256"], options={"require": ["exp", "tid", "sub", "cid"]}
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access":
        return None
    return AccessGrant(
        client_id=str(claims["sub"]),
        client_uuid=str(claims["cid"]),
        tenant_id=str(claims["tid"]),
        scopes=frozenset(str(claims.get("scope", "")).split()),
    )


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic`` header, ``None`` for
    any other scheme. Credentials that are not base64 of UTF-8 ``id:secret`` (RFC 7617)
    are refused here, before the token endpoint's library reads them."""
    # Split as the token endpoint's library (authlib) splits it, so that every header it
    # would read as Basic is read here first.
    scheme, *token = authorization.split(None, 1) or [""]
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode("".join(token), validate=True).decode()
    except ValueError as exc:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        raise AuthenticationFailed(
            "Authorization: Basic credentials must be base64 of UTF-8 client_id:client_secret"
        ) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise AuthenticationFailed(
            "Authorization: Basic credentials have no ':' after the client_id"
        )
    return client_id, secret
