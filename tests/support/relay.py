"""A TCP relay on 127.0.0.1 in front of a real server, which a test can cut and restore.

Cut, every relayed connection is reset and new ones are refused, as when the database
host goes away; restored, it relays again on the same port. The server behind it (the
shared PostgreSQL) never notices, so the other tests using it are not disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Relay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Reset every relayed connection and refuse new ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        await self._settle()

    async def restore(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.cut()

    async def _settle(self) -> None:
        if self._pipes:
            await asyncio.wait(list(self._pipes), timeout=5)

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_out.transport.abort()
            return
        self._writers.update((client_out, server_out))
        pipes = [
            asyncio.create_task(self._pipe(client_in, server_out)),
            asyncio.create_task(self._pipe(server_in, client_out)),
        ]
        self._pipes.update(pipes)
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for writer in (client_out, server_out):
            writer.transport.abort()
            self._writers.discard(writer)
        await asyncio.wait(pipes)
        self._pipes.difference_update(pipes)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


@asynccontextmanager
async def relay(upstream_host: str, upstream_port: int) -> AsyncIterator[Relay]:
    started = Relay(upstream_host, upstream_port)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
