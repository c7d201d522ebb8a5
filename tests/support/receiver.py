"""A real webhook receiver on 127.0.0.1 for tests: records requests, answers as scripted.

``Receiver`` runs inside the test's event loop (``async with``);
``ThreadedReceiver`` runs its own loop in a thread, for tests that drive
``waypost`` as a subprocess with blocking calls. Both can serve HTTPS with a
``trustme`` certificate.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

import trustme
from aiohttp import web


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    arrived: float
    """``time.time()`` when the request arrived (one clock for latency measurements)."""
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class Receiver:
    """Records every request; answers each path from its script, then the default reply."""

    def __init__(self, *, tls: trustme.CA | None = None) -> None:
        self.requests: list[Recorded] = []
        self.default = Reply()
        self._scripts: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self._tls = tls
        self._runner: web.AppRunner | None = None
        self.port = 0

    def script(self, path: str, replies: Sequence[Reply]) -> None:
        self._scripts[path].extend(replies)

    def url(self, path: str = "/") -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def requests_for(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Recorded(
                arrived=time.time(),
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=list(request.headers.items()),
                body=await request.read(),
            )
        )
        script = self._scripts.get(request.path)
        reply = script.popleft() if script else self.default
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self._tls is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context())
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, within: float = 30, path: str | None = None) -> None:
        deadline = time.monotonic() + within
        while len(self.requests if path is None else self.requests_for(path)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} requests, wanted {count}")
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


class ThreadedReceiver(Receiver):
    """The same receiver on its own event loop in a daemon thread."""

    def __init__(self, *, tls: trustme.CA | None = None) -> None:
        super().__init__(tls=tls)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> None:  # type: ignore[override]
        self._thread.start()
        asyncio.run_coroutine_threadsafe(Receiver.start(self), self._loop).result(10)

    def stop(self) -> None:  # type: ignore[override]
        asyncio.run_coroutine_threadsafe(Receiver.stop(self), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def wait_until(self, count: int, timeout: float = 60, path: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests if path is None else self.requests_for(path)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} requests, wanted {count}")
            time.sleep(0.05)
