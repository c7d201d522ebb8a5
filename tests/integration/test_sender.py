"""The sender over real sockets: status codes, timeouts, TLS, the SSRF guard."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from tests.support.receiver import Receiver, Reply
from waypost.delivery.sender import OutboundRequest, Sender
from waypost.domain.attempts import FailureKind


def sender(**overrides: object) -> Sender:
    options: dict[str, object] = {
        "allow_private_targets": True,
        "ca_bundle": None,
        "connect_timeout": 1.0,
        "request_timeout": 0.5,
        "concurrency": 256,
        "per_host": 64,
        "excerpt_bytes": 16,
    }
    options.update(overrides)
    return Sender(**options)  # type: ignore[arg-type]


def post(url: str, **headers: str) -> OutboundRequest:
    return OutboundRequest(
        url=url, headers={"Content-Type": "application/json", **headers}, body=b'{"a":1}'
    )


async def test_headers_arrive_exactly_and_redirects_are_not_followed() -> None:
    async with Receiver() as receiver, sender() as client:
        receiver.script("/moved", [Reply(302, headers={"Location": "/elsewhere"})])
        ok = await client.send(post(receiver.url("/hook"), Authorization="Bearer k"))
        moved = await client.send(post(receiver.url("/moved")))
    assert ok.status_code == 200 and ok.failure is None
    assert moved.status_code == 302
    assert [r.path for r in receiver.requests] == ["/hook", "/moved"]
    first = receiver.requests[0]
    assert first.body == b'{"a":1}'
    assert first.header("authorization") == "Bearer k"
    assert first.header("content-type") == "application/json"
    assert (first.header("user-agent") or "").startswith("waypost/")


async def test_response_body_is_read_within_bounds() -> None:
    async with Receiver() as receiver, sender() as client:
        receiver.default = Reply(200, body=b"x" * 1_000_000)
        result = await client.send(post(receiver.url()))
    assert result.status_code == 200
    assert 16 <= len(result.body) <= 64 * 1024


async def test_timeout_and_refused_connection() -> None:
    async with Receiver() as receiver, sender() as client:
        receiver.default = Reply(200, delay=2)
        slow = await client.send(post(receiver.url("/slow")))
        port = receiver.port
    async with sender() as client:
        refused = await client.send(post(f"http://127.0.0.1:{port}/gone"))
    assert slow.failure == FailureKind.TIMEOUT and "timeout" in (slow.error or "")
    assert refused.failure == FailureKind.CONNECTION_ERROR


async def test_untrusted_certificate_fails_and_a_ca_bundle_fixes_it(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with Receiver(tls=ca) as receiver:
        async with sender() as client:
            untrusted = await client.send(post(receiver.url("/tls")))
        async with sender(ca_bundle=str(bundle)) as client:
            trusted = await client.send(post(receiver.url("/tls")))
    assert untrusted.failure == FailureKind.TLS_ERROR, untrusted.error
    assert trusted.status_code == 200, trusted.error
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        # Other spellings of 127.0.0.1: the resolver reads the numeric ones, and yarl maps
        # fullwidth digits to ASCII, after which aiohttp connects without asking it.
        "2130706433",
        "0x7f.1",
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",
        "[::ffff:127.0.0.1]",
    ],
)
async def test_private_targets_are_refused_at_connect_time(host: str) -> None:
    async with Receiver() as receiver, sender(allow_private_targets=False) as client:
        result = await client.send(post(f"http://{host}:{receiver.port}/x"))
    assert result.failure == FailureKind.REFUSED_TARGET
    assert "WAYPOST_ALLOW_PRIVATE_TARGETS" in (result.error or "")
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/x",
        "http://127.0.0.1:0/x",
        "http://a b/",
        "http://1.1.1.1:99999/hook",
        "http:///hook",
        "ftp://host/hook",
    ],
)
async def test_a_malformed_url_is_refused_before_sending(url: str) -> None:
    """A URL stored before the create-time rule was as strict fails its attempt, with the
    rule's reason, even where private targets are allowed."""
    async with sender(allow_private_targets=True) as client:
        result = await client.send(post(url))
    assert result.failure == FailureKind.REFUSED_TARGET
    assert (result.error or "").startswith("refused target: ")


async def test_two_hundred_concurrent_sends() -> None:
    async with Receiver() as receiver, sender() as client:
        results = await asyncio.gather(
            *[client.send(post(receiver.url(f"/c{n}"))) for n in range(200)]
        )
    assert all(result.status_code == 200 for result in results)
    assert len(receiver.requests) == 200
