"""The waypost app served over a real socket inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from tests.support.tenants import TenantCredentials, make_tenant
from waypost.app import Roles, create_app
from waypost.config import Settings
from waypost.store import Store


@dataclass
class RunningApp:
    base_url: str
    settings: Settings
    store: Store
    client: httpx.AsyncClient

    async def tenant(self, name: str = "acme") -> TenantCredentials:
        return await make_tenant(self.store, name)


@asynccontextmanager
async def serve_app(settings: Settings, roles: Roles | None = None) -> AsyncIterator[RunningApp]:
    app = create_app(settings, roles or Roles(dispatcher=True))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield RunningApp(
                base_url=base_url,
                settings=settings,
                store=app.state.services.store,
                client=client,
            )
    finally:
        server.should_exit = True
        await task
