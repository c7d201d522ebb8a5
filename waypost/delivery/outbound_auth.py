"""Credentials on outgoing webhooks: a JWT per attempt, or a cached OAuth2 access token.

One ``Authenticator`` per process. OAuth2 tokens are cached per method and
shared by every concurrent send: while one is being fetched, the others wait
for it, so 200 deliveries at once cost one token request. Token requests go
through their own ``Sender`` (the same TLS and SSRF rules, its own connections).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import orjson

from waypost.config import Settings
from waypost.delivery.sender import OutboundRequest, RequestSender, Sender
from waypost.domain import headers as http_headers
from waypost.domain.attempts import FailureKind
from waypost.domain.auth import (
    AuthMethod,
    JwtMethod,
    OAuth2Method,
    jwt_header,
    token_lifetime,
    token_request,
)
from waypost.errors import TokenUnavailable, Unsendable, ValidationFailed


@dataclass(frozen=True)
class _Token:
    value: str
    reuse_until: float


@dataclass(frozen=True, kw_only=True)
class Credentials:
    headers: dict[str, str]
    token: str | None = None
    """The OAuth2 access token used, to drop it if the target answers 401."""


class Authenticator:
    def __init__(self, token_sender: RequestSender) -> None:
        self._sender = token_sender
        self._tokens: dict[OAuth2Method, _Token] = {}
        self._locks: dict[OAuth2Method, asyncio.Lock] = {}

    async def credentials(
        self, method: AuthMethod, *, delivery_id: str, body: bytes, now: datetime
    ) -> Credentials:
        """The headers ``method`` adds to one attempt; raises ``TokenUnavailable`` (worth a
        retry) or ``Unsendable`` (the method's stored settings cannot work)."""
        if isinstance(method, JwtMethod):
            try:
                name, value = jwt_header(method, delivery_id=delivery_id, body=body, now=now)
            except ValidationFailed as exc:
                # A key saved before the create-time checks, or one they would refuse now.
                raise Unsendable(f"auth method: {exc.reason}") from exc
            return Credentials(headers={name: value})
        token = await self._token(method)
        headers = dict(method.headers)
        headers["Authorization"] = f"Bearer {token}"
        return Credentials(headers=headers, token=token)

    def reject(self, method: OAuth2Method, token: str) -> None:
        """The target refused ``token`` (401): fetch a new one next time, once for all."""
        cached = self._tokens.get(method)
        if cached is not None and cached.value == token:
            del self._tokens[method]

    async def _token(self, method: OAuth2Method) -> str:
        cached = self._tokens.get(method)
        if cached is not None and cached.reuse_until > time.monotonic():
            return cached.value
        lock = self._locks.setdefault(method, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(method)
            if cached is not None and cached.reuse_until > time.monotonic():
                return cached.value
            fetched = await self._fetch(method)
            self._tokens[method] = fetched
            return fetched.value

    async def _fetch(self, method: OAuth2Method) -> _Token:
        request = token_request(method)
        started = time.monotonic()
        result = await self._sender.send(
            OutboundRequest(url=request.url, headers=request.headers, body=request.body)
        )
        where = f"token request to {method.token_url}"
        if result.failure == FailureKind.UNSENDABLE:
            raise Unsendable(f"{where} failed: {result.error}")
        if result.status_code is None:
            raise TokenUnavailable(f"{where} failed: {result.error}")
        if result.status_code != 200:
            raise TokenUnavailable(f"{where} failed: HTTP {result.status_code}")
        try:
            answer = orjson.loads(result.body)
        except orjson.JSONDecodeError as exc:
            raise TokenUnavailable(f"{where} failed: the answer is not JSON") from exc
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenUnavailable(f"{where} failed: no access_token in the answer")
        if not http_headers.is_value(token):
            # It would break the Authorization header; the next answer may be better.
            raise TokenUnavailable(f"{where} failed: the access_token {http_headers.VALUE_RULE}")
        return _Token(token, started + token_lifetime(answer.get("expires_in")))


@asynccontextmanager
async def outbound(settings: Settings) -> AsyncIterator[tuple[Sender, Authenticator]]:
    """The process's webhook sender and its authenticator, with their own connections."""
    async with Sender.from_settings(settings) as sender, Sender.from_settings(settings) as tokens:
        yield sender, Authenticator(tokens)
