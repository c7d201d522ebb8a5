"""The one HTTP client for delivery: a shared aiohttp session.

aiohttp rather than httpx because this is the hot path: on this machine a bare
aiohttp loop posts ~6,000 requests/s where httpx manages ~500. One session per
process holds the connection pool (bounded in total and per host, kept alive),
verifies TLS against the system store plus ``WAYPOST_CA_BUNDLE``, never follows
redirects, and resolves hosts through the SSRF guard.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Protocol

import aiohttp

import waypost
from waypost.config import Settings
from waypost.delivery.targets import GuardedResolver, TargetRefused
from waypost.domain.attempts import FailureKind
from waypost.domain.urls import target_refusal

USER_AGENT = f"waypost/{waypost.__version__} (+https://github.com/waypost/waypost)"
# Enough for any acknowledgement body; a receiver answering megabytes is not read further.
_READ_LIMIT = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class OutboundRequest:
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    timeout: float | None = None
    """Total timeout for this request instead of the default (acknowledged webhooks)."""


@dataclass(frozen=True, kw_only=True)
class SendResult:
    started_at: datetime
    duration_ms: float
    status_code: int | None
    response_headers: dict[str, str]
    body: bytes
    failure: FailureKind | None
    error: str | None
    """Human-readable failure; never contains request header values."""

    @classmethod
    def failed_before_sending(cls, failure: FailureKind, error: str) -> SendResult:
        """An attempt that ended before its request went out (e.g. no OAuth2 token)."""
        return cls(
            started_at=datetime.now(UTC),
            duration_ms=0.0,
            status_code=None,
            response_headers={},
            body=b"",
            failure=failure,
            error=error,
        )


@lru_cache(maxsize=16384)
def _refusal(url: str, allow_private: bool) -> str | None:
    """The create-time rule, again: aiohttp skips the resolver for a host that is an IP
    address, and a URL stored before the rule was as strict is checked here as well.
    Cached, as the strict parse costs about 10 us: enough entries for the benchmark's
    10,000 distinct URLs, a few MB at most."""
    reason = target_refusal(url, allow_private=allow_private)
    return f"refused target: {reason}" if reason else None


class RequestSender(Protocol):
    """What sends one request: ``Sender`` over the network, or a fake in unit tests."""

    async def send(self, request: OutboundRequest) -> SendResult:
        """The answer, or the failure; never raises for network or HTTP problems."""
        ...


class Sender:
    """Sends webhook requests; ``send`` never raises for network or HTTP problems."""

    def __init__(
        self,
        *,
        allow_private_targets: bool,
        ca_bundle: str | None,
        connect_timeout: float,
        request_timeout: float,
        concurrency: int,
        per_host: int,
        excerpt_bytes: int,
        user_agent: str = USER_AGENT,
    ) -> None:
        self._allow_private = allow_private_targets
        self._ca_bundle = ca_bundle
        self._connect_timeout = connect_timeout
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=connect_timeout)
        self._concurrency = concurrency
        self._per_host = per_host
        self._read_limit = max(excerpt_bytes, _READ_LIMIT)
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        return cls(
            allow_private_targets=settings.allow_private_targets,
            ca_bundle=settings.ca_bundle,
            connect_timeout=settings.connect_timeout,
            request_timeout=settings.request_timeout,
            concurrency=settings.dispatch_concurrency,
            per_host=settings.per_host_connections,
            excerpt_bytes=settings.response_excerpt_bytes,
        )

    async def start(self) -> None:
        context = ssl.create_default_context()
        if self._ca_bundle:
            context.load_verify_locations(cafile=self._ca_bundle)
        connector = aiohttp.TCPConnector(
            limit=self._concurrency,
            limit_per_host=self._per_host,
            ssl=context,
            resolver=GuardedResolver(allow_private=self._allow_private),
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": self._user_agent},
            skip_auto_headers=("Content-Type", "Accept", "Accept-Encoding"),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Sender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, request: OutboundRequest) -> SendResult:
        started_at = datetime.now(UTC)
        started = time.perf_counter()

        def failed(kind: FailureKind, error: str) -> SendResult:
            return SendResult(
                started_at=started_at,
                duration_ms=(time.perf_counter() - started) * 1000,
                status_code=None,
                response_headers={},
                body=b"",
                failure=kind,
                error=error,
            )

        if refusal := _refusal(request.url, self._allow_private):
            return failed(FailureKind.REFUSED_TARGET, refusal)
        assert self._session is not None, "Sender.start() was not called"
        timeout = (
            aiohttp.ClientTimeout(total=request.timeout, connect=self._connect_timeout)
            if request.timeout is not None
            else None
        )
        try:
            async with self._session.post(
                request.url,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
                timeout=timeout or self._timeout,
            ) as response:
                body = await response.content.read(self._read_limit)
                return SendResult(
                    started_at=started_at,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    status_code=response.status,
                    response_headers={str(name): value for name, value in response.headers.items()},
                    body=body,
                    failure=None,
                    error=None,
                )
        except TimeoutError:
            limit = request.timeout or self._timeout.total
            return failed(FailureKind.TIMEOUT, f"timeout after {limit} s")
        except aiohttp.ClientConnectorCertificateError as exc:
            return failed(
                FailureKind.TLS_ERROR, f"TLS certificate not trusted: {exc.certificate_error}"
            )
        except aiohttp.ClientSSLError as exc:
            return failed(FailureKind.TLS_ERROR, f"TLS error: {exc}")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):
                return failed(FailureKind.REFUSED_TARGET, str(exc.os_error))
            return failed(FailureKind.CONNECTION_ERROR, f"cannot connect: {exc.os_error or exc}")
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            # Stored before the create-time checks refused it; waiting will not mend it.
            return failed(FailureKind.UNSENDABLE, f"not a valid http or https URL: {exc}")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            return failed(FailureKind.CONNECTION_ERROR, f"{type(exc).__name__}: {exc}")
