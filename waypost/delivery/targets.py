"""The SSRF guard: webhooks may not reach loopback, private, link-local or multicast hosts.

Checked twice: at subscription create time for literal addresses and
``localhost``, and at connect time on the addresses actually connected to (the
resolver below hands aiohttp only checked addresses, so DNS rebinding cannot
slip a private address in after the create-time check).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from waypost.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_HINT = "set WAYPOST_ALLOW_PRIVATE_TARGETS=1 to allow"
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def is_forbidden_address(ip: IPAddress) -> bool:
    """Whether ``ip`` is anything but a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_forbidden_address(ip.ipv4_mapped)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def refused_reason(host: str, ip: IPAddress) -> str:
    return f"refused target {host}: resolves to non-public address {ip} ({ALLOW_HINT})"


def check_target_url(url: str, *, allow_private: bool) -> None:
    """Create-time check of a webhook URL; hostnames are checked again at connect time."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed("configuration.url: must be an http or https URL")
    host = parts.hostname
    if not host:
        raise ValidationFailed("configuration.url: has no host")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise ValidationFailed(f"configuration.url: {host} is a loopback host ({ALLOW_HINT})")
    ip = literal_address(host)
    if ip is not None and is_forbidden_address(ip):
        raise ValidationFailed(f"configuration.url: {refused_reason(host, ip)}")


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
                    raise TargetRefused(refused_reason(host, ip))
        return results

    async def close(self) -> None:
        await self._resolver.close()
