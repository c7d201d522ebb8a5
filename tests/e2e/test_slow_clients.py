"""Clients that send a request too slowly are cut off; everyone else is served as before."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.support.deployment import create_tenant
from tests.support.process import waypost_serve

pytestmark = pytest.mark.slow

DRIP_INTERVAL = 0.2
DRIP_BYTES = 150
"""A trickling client sends one byte every DRIP_INTERVAL, for 30 s at most: far beyond the
deadlines below, so a connection still open when its bytes run out was never cut off."""
EVENT = {"type": "task_created", "data": {"id": 1}}
HEAD_DRIP = b"POST /api/v1/events HTTP/1.1\r\nX-Pad: " + b"a" * DRIP_BYTES
BODY_DRIP = b'{"type": "' + b"a" * DRIP_BYTES


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One ``serve`` for the module, with deadlines short enough for a test."""
    tmp_path = tmp_path_factory.mktemp("slow-clients")
    database_url = f"sqlite:///{tmp_path}/waypost.db"
    tenant = create_tenant(database_url)
    with waypost_serve(database_url, tmp_path, http_header_timeout="2", http_body_timeout="2") as (
        base_url,
        _process,
    ):
        yield base_url, tenant["api_key"]


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _until_closed(connection: Connection, first: bytes, drip: bytes) -> bytes:
    """Send ``first``, then ``drip`` a byte at a time, until the server closes the
    connection; return everything the server sent."""
    reader, writer = connection
    answer = bytearray()

    async def read_until_closed() -> None:
        with contextlib.suppress(ConnectionResetError):  # a reset is a close too
            while chunk := await reader.read(65536):
                answer.extend(chunk)

    closed = asyncio.ensure_future(read_until_closed())
    try:
        writer.write(first)
        for byte in drip:
            done, _ = await asyncio.wait([closed], timeout=DRIP_INTERVAL)
            if done:
                break
            writer.write(bytes([byte]))
        try:
            await asyncio.wait_for(closed, timeout=5)
        except TimeoutError:
            pytest.fail(f"a connection sending {first[:40]!r} then {drip[:40]!r} was never closed")
        return bytes(answer)
    finally:
        closed.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: waypost", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_slow_heads_and_bodies_are_closed_while_others_are_served(
    server: tuple[str, str],
) -> None:
    base_url, api_key = server
    port = httpx.URL(base_url).port
    assert port is not None
    bearer = {"Authorization": f"Bearer {api_key}"}
    body_head = _head(
        "POST",
        "/api/v1/events",
        f"Authorization: Bearer {api_key}",
        "Content-Type: application/json",
        "Content-Length: 100000",
    )
    healthz = _head("GET", "/healthz")
    plan = [
        # Heads trickled a byte at a time, never finished.
        *[(b"", HEAD_DRIP)] * 50,
        # Bodies trickled a byte at a time after a complete head.
        *[(body_head, BODY_DRIP)] * 20,
        # Connections that send nothing at all.
        *[(b"", b"")] * 5,
        # Keep-alive connections: one request answered, then the next head trickled.
        *[(healthz, HEAD_DRIP)] * 5,
    ]
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in plan]
    slow = [
        _until_closed(connection, first, drip)
        for connection, (first, drip) in zip(connections, plan, strict=True)
    ]
    async with httpx.AsyncClient(base_url=base_url, headers=bearer, timeout=30) as client:
        closing = asyncio.gather(*slow)
        meanwhile = await client.post("/api/v1/events", json=EVENT)
        received = await closing
        after = await client.post("/api/v1/events", json=EVENT)
    assert meanwhile.status_code == 202, meanwhile.text
    assert after.status_code == 202, after.text

    heads, bodies, silent, kept_alive = (
        received[:50],
        received[50:70],
        received[70:75],
        received[75:],
    )
    assert heads == [b""] * 50  # closed without an answer: there is no request to answer
    assert silent == [b""] * 5
    for answer in kept_alive:  # the first request's answer, then nothing
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.count(b"HTTP/1.1") == 1
    for answer in bodies:
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
        error = orjson.loads(payload)
        assert set(error) == {"uuid", "status", "reason"}
        assert error["status"] == "408"
        assert b"x-request-id: " + error["uuid"].encode() in head


async def test_keep_alive_serves_request_after_request(server: tuple[str, str]) -> None:
    base_url, api_key = server
    port = httpx.URL(base_url).port
    assert port is not None
    post = _head(
        "POST",
        "/api/v1/events",
        f"Authorization: Bearer {api_key}",
        "Content-Type: application/json",
        f"Content-Length: {len(orjson.dumps(EVENT))}",
    )
    event = orjson.dumps(EVENT)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(3):
            # The body in two writes, as a client streaming it would send it.
            writer.write(post + event[:10])
            await writer.drain()
            writer.write(event[10:])
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
            assert head.startswith(b"HTTP/1.1 202 "), head
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            assert b'"id"' in await reader.readexactly(length)
    finally:
        writer.close()
