"""Target URLs: one strict parse for every URL waypost sends requests to, and the SSRF
verdict on the host it reaches.

A target URL is ``http`` or ``https``; it has no control characters or whitespace, no
ASCII character that RFC 3986 leaves out (``\\ < > " { } | ^ ```), only well-formed
percent-escapes, at most one ``userinfo@``, a host, and, if a port is given, a number
from 1 to 65535 in ASCII digits. A bracketed host must be an IPv6 address (``ipaddress``
decides; no zone id), and a name must be one a resolver can look up (labels of letters,
digits, ``-`` and ``_``, at most 63 characters each and 253 in all).

The host is judged as the delivery client will reach it: yarl, which aiohttp parses
URLs with, gives it lower-case and IDNA-encoded (``127.0.0.1`` written in fullwidth
digits is ``127.0.0.1``), and a host whose last label is a number is read as an IPv4
address the way ``inet_aton`` (and with it the system resolver) reads one:
``2130706433``, ``0177.0.0.1``, ``0x7f.0.0.1``, ``127.1`` and ``0`` are all addresses,
and a numeric host that is no address (``999.1.1.1``, ``example.123``) is refused. So
every spelling of a loopback or private address is refused, not only the dotted one.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

import yarl

from waypost.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_HINT = "set WAYPOST_ALLOW_PRIVATE_TARGETS=1 to allow"

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SPLIT = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)")
_NOT_IN_RFC_3986 = re.compile(r'[\\<>"{}|^`]')
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PORT = re.compile(r"[0-9]{1,5}")
_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_\-]{0,61}[a-z0-9_])?")
_MAX_NAME = 253


@dataclass(frozen=True, kw_only=True)
class TargetUrl:
    scheme: str
    host: str
    """Lower-case and IDNA-encoded, as the client sends it (an IPv6 address without brackets)."""
    address: IPAddress | None
    """The address the host stands for, in whichever spelling; ``None`` for a name."""
    port: int | None
    """The explicit port; ``None`` for the scheme's default."""


def parse_url(text: str) -> TargetUrl:
    """``text`` parsed strictly; ``ValueError`` with the reason when it is no target URL."""
    if not text.isprintable() or " " in text:
        raise ValueError("must not contain control characters or whitespace")
    if unsafe := _NOT_IN_RFC_3986.search(text):
        raise ValueError(f"must not contain {unsafe.group()!r}; percent-encode it")
    if _BAD_ESCAPE.search(text):
        raise ValueError("has a % that is not followed by two hex digits")
    split = _SPLIT.fullmatch(text)
    if split is None or split[1].lower() not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    userinfo, _, host_and_port = split[2].rpartition("@")
    if "@" in userinfo:
        raise ValueError("has more than one '@' before the host")
    if not host_and_port or host_and_port.startswith(":"):
        raise ValueError("has no host")
    bracketed = host_and_port.startswith("[")
    port = _port(_port_text(host_and_port, bracketed))
    try:
        host = yarl.URL(text).raw_host or ""
    except ValueError as exc:  # what yarl refuses, aiohttp could not send either
        raise ValueError(f"is not a valid URL ({exc})") from exc
    address = ipaddress.IPv6Address(host) if bracketed else _name_address(host)
    return TargetUrl(scheme=split[1].lower(), host=host, address=address, port=port)


def _port_text(host_and_port: str, bracketed: bool) -> str | None:
    """The text after the host's ``:``; ``None`` without one. Checks a bracketed host."""
    if not bracketed:
        _host, colon, port = host_and_port.partition(":")
        return port if colon else None
    inside, bracket, rest = host_and_port[1:].partition("]")
    if not bracket:
        raise ValueError("has a '[' without ']' in its host")
    if "%" in inside:
        raise ValueError(f"[{inside}]: an IPv6 zone id is not allowed")
    try:
        ipaddress.IPv6Address(inside)
    except ValueError as exc:
        raise ValueError(f"[{inside}] is not an IPv6 address") from exc
    if rest and not rest.startswith(":"):
        raise ValueError(f"has {rest!r} after the ']' of its host")
    return rest[1:] if rest else None


def _port(text: str | None) -> int | None:
    if text is None:
        return None
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValueError("port must be a number from 1 to 65535")
    return int(text)


def _name_address(host: str) -> IPAddress | None:
    """The IPv4 address a non-bracketed host stands for, or ``None`` for a valid name."""
    name = host.removesuffix(".")
    labels = name.split(".")
    if _NUMBER.fullmatch(labels[-1]):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError as exc:
            raise ValueError(f"host {host} ends in a number but is not an IPv4 address") from exc
    if len(name) > _MAX_NAME or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"host {host!r} is not a valid host name")
    return None


def is_forbidden_address(ip: IPAddress) -> bool:
    """Whether ``ip`` is anything but a public unicast address; an IPv6 address that
    carries an IPv4 one (mapped, 6to4, NAT64) is judged by the IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_forbidden_address(embedded)
        if ip.is_site_local:
            return True
    elif ip in _CGNAT:
        return True
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
    )


def target_refusal(text: str, *, allow_private: bool) -> str | None:
    """Why waypost will not send to ``text``, or ``None``: the create-time check of every
    target URL and the send-time check of the literal host (aiohttp connects to an IP
    address without asking the resolver, whose answers are checked separately)."""
    try:
        target = parse_url(text)
    except ValueError as exc:
        return str(exc)
    if allow_private:
        return None
    if target.address is not None and is_forbidden_address(target.address):
        spelled = "" if target.host == str(target.address) else f" ({target.address})"
        return f"{target.host}{spelled} is a non-public address ({ALLOW_HINT})"
    name = target.host.removesuffix(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{target.host} is a loopback name ({ALLOW_HINT})"
    return None


def check_url(text: str, *, field: str, allow_private: bool) -> None:
    """``target_refusal`` as a 400 naming ``field``."""
    if reason := target_refusal(text, allow_private=allow_private):
        raise ValidationFailed(f"{field}: {reason}")
