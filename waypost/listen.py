"""``waypost listen``: a development receiver that prints every webhook it gets.

For trying waypost out locally (the README's walk-through); it answers 200 to
every POST, or the status given with ``--status``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web


def _printer(status: int) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        lines = [f"--- {request.method} {request.path_qs}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        lines += ["", body.decode("utf-8", errors="replace"), ""]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        return web.json_response({"ok": status == 200}, status=status)

    return handle


async def listen(host: str, port: int, status: int) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _printer(status))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    sys.stdout.write(f"listening on http://{host}:{port}/ (Ctrl-C to stop)\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
