"""The SSRF guard: webhooks may not reach loopback, private, link-local or multicast hosts.

Checked twice: when a target URL is created, by ``waypost.domain.urls`` (every
spelling of an address, and ``localhost``), and at connect time on the addresses
actually connected to (the resolver below hands aiohttp only checked addresses, so
DNS rebinding cannot slip a private address in after the create-time check).
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from waypost.domain.urls import ALLOW_HINT, is_forbidden_address


class TargetRefused(OSError):
    """Raised while connecting, so aiohttp reports it as a connection error."""


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses non-public addresses."""

    def __init__(self, *, allow_private: bool) -> None:
        self._resolver = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        if not self._allow_private:
            for result in results:
                ip = ipaddress.ip_address(result["host"])
                if is_forbidden_address(ip):
                    raise TargetRefused(
                        f"refused target {host}: resolves to non-public address {ip} ({ALLOW_HINT})"
                    )
        return results

    async def close(self) -> None:
        await self._resolver.close()
