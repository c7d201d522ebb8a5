"""Outbound authentication methods, as Bringg models them: JWT and OAuth2 client credentials.

Pure: what a method's stored document holds, the JWT of one attempt, the token
request of an OAuth2 method and how long its token may be reused. Sending and
caching live in ``delivery/``. Static headers need nothing here: they are the
subscription's own headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

import jwt
import orjson

from waypost.domain import headers as http_headers
from waypost.domain.urls import check_url
from waypost.errors import ValidationFailed

JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256"]
RequestType = Literal["form", "json", "query"]
ClientAuth = Literal["body", "basic"]
SHARED_KEY_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})

SECRET_FIELDS = frozenset({"key", "private_key", "client_secret", "headers"})
"""Fields of a method's document that are write-only: never shown, never logged."""

TOKEN_REUSE_MARGIN = 30.0
"""A cached access token is renewed this many seconds before it expires."""
DEFAULT_TOKEN_LIFETIME = 300.0
"""How long a token without ``expires_in`` is reused."""


@dataclass(frozen=True, kw_only=True)
class JwtMethod:
    """Bringg's JWT method: a fresh token per attempt, bound to the body it is sent with."""

    algorithm: JwtAlgorithm
    key: str
    """The shared secret (HS*) or the PEM private key (RS256, ES256)."""
    key_is_base64: bool = False
    issuer: str | None = None
    audience: str | None = None
    subject: str | None = None
    lifetime_minutes: int = 20160
    header: str = "Authorization"
    prefix: str = "Bearer"


@dataclass(frozen=True, kw_only=True)
class OAuth2Method:
    """Bringg's ``oauthBasic``: the client-credentials grant against ``auth_url + path``."""

    client_id: str
    client_secret: str
    auth_url: str
    path: str = "/oauth/token"
    request_type: RequestType = "form"
    scope: str | None = None
    client_auth: ClientAuth = "body"
    headers: tuple[tuple[str, str], ...] = ()
    """Static headers sent with every webhook that uses the method."""

    @property
    def token_url(self) -> str:
        return self.auth_url.rstrip("/") + "/" + self.path.lstrip("/")


AuthMethod = JwtMethod | OAuth2Method


def signing_key(method: JwtMethod) -> bytes | str:
    if method.algorithm not in SHARED_KEY_ALGORITHMS:
        return method.key
    if not method.key_is_base64:
        return method.key.encode()
    try:
        return base64.b64decode(method.key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("signature.key: not valid base64") from exc


def _key_field(method: JwtMethod) -> str:
    return "signature.key" if method.algorithm in SHARED_KEY_ALGORITHMS else "private_key"


def _sign(method: JwtMethod, claims: dict[str, Any]) -> str:
    """``claims`` signed with the method's key, or ``ValidationFailed`` naming the key's
    field: at create time, and at send time for a key stored before it was checked."""
    key = signing_key(method)
    try:
        return jwt.encode(claims, key, algorithm=method.algorithm)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ValidationFailed(
            f"{_key_field(method)}: cannot sign {method.algorithm} with it ({type(exc).__name__})"
        ) from exc


def check_jwt(method: JwtMethod) -> JwtMethod:
    """Refuse a key that cannot sign with the method's algorithm, and a header name or
    prefix that cannot be sent, naming the field."""
    # RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
    minimum = int(method.algorithm[2:]) // 8
    if method.algorithm in SHARED_KEY_ALGORITHMS and len(signing_key(method)) < minimum:
        raise ValidationFailed(
            f"{_key_field(method)}: at least {minimum} bytes for {method.algorithm}"
        )
    _sign(method, {"probe": True})
    if not 1 <= method.lifetime_minutes <= 527_040:
        raise ValidationFailed("lifetime_minutes: from 1 to 527040 (a year)")
    http_headers.check_name("header", method.header)
    http_headers.check_value("prefix", method.prefix)
    return method


def check_oauth2(method: OAuth2Method, *, allow_private: bool) -> OAuth2Method:
    """The token URL is a target like a webhook's: ``auth_url`` is checked first, so a
    fault in the URL with ``path`` appended is the path's."""
    check_url(method.auth_url, field="auth_url", allow_private=allow_private)
    check_url(method.token_url, field="path", allow_private=allow_private)
    for index, (key, value) in enumerate(method.headers):
        http_headers.check_header(f"headers[{index}]", key, value)
    return method


def jwt_header(
    method: JwtMethod, *, delivery_id: str, body: bytes, now: datetime
) -> tuple[str, str]:
    """The header carrying a fresh JWT for one attempt of ``delivery_id`` with ``body``.

    ``jti`` is unique per attempt; ``body_sha256`` binds the token to the exact
    bytes sent, so a token lifted from one request cannot authorise another body.
    """
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iat": issued,
        "exp": issued + method.lifetime_minutes * 60,
        "jti": str(uuid.uuid4()),
        "webhook_id": delivery_id,
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    for claim, value in (("iss", method.issuer), ("aud", method.audience), ("sub", method.subject)):
        if value is not None:
            claims[claim] = value
    token = _sign(method, claims)
    return method.header, f"{method.prefix} {token}" if method.prefix else token


@dataclass(frozen=True, kw_only=True)
class TokenRequest:
    url: str
    headers: dict[str, str]
    body: bytes


def token_request(method: OAuth2Method) -> TokenRequest:
    """The client-credentials request, encoded as the method's ``request_type`` says."""
    params = {"grant_type": "client_credentials"}
    if method.scope:
        params["scope"] = method.scope
    headers = {"Accept": "application/json"}
    if method.client_auth == "basic":
        pair = f"{method.client_id}:{method.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        params.update(client_id=method.client_id, client_secret=method.client_secret)
    if method.request_type == "query":
        return TokenRequest(
            url=f"{method.token_url}?{urlencode(params)}", headers=headers, body=b""
        )
    if method.request_type == "json":
        headers["Content-Type"] = "application/json"
        return TokenRequest(url=method.token_url, headers=headers, body=orjson.dumps(params))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return TokenRequest(url=method.token_url, headers=headers, body=urlencode(params).encode())


def token_lifetime(expires_in: object) -> float:
    """Seconds a token may be reused: until shortly before ``expires_in``."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return DEFAULT_TOKEN_LIFETIME
    return max(0.0, float(expires_in) - min(TOKEN_REUSE_MARGIN, float(expires_in) / 10))


def to_document(method: AuthMethod) -> dict[str, Any]:
    """Everything the store keeps (encrypted) about a method."""
    document = asdict(method)
    if isinstance(method, OAuth2Method):
        document["headers"] = [{"key": key, "value": value} for key, value in method.headers]
    return document


def from_document(kind: str, document: Mapping[str, Any]) -> AuthMethod:
    if kind == "jwt":
        return JwtMethod(**document)
    values = dict(document)
    values["headers"] = tuple((item["key"], item["value"]) for item in values.get("headers", []))
    return OAuth2Method(**values)


def public_view(method: AuthMethod) -> dict[str, Any]:
    """The method without its secrets: what the API shows."""
    view = {key: value for key, value in asdict(method).items() if key not in SECRET_FIELDS}
    if isinstance(method, OAuth2Method):
        view["headers"] = [{"key": key} for key, _value in method.headers]
    return view
