"""Large bodies that are not JSON, or not what a route takes, get a short 400 and are let go."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tests.integration.test_webhooks_api import assert_error
from tests.support.databases import settings_for
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import TenantCredentials
from waypost.app import Roles

MB = 2**20
NOT_JSON = b"order 1234 for Oslo, not JSON; " * (10 * MB // 31)
NOT_UTF8 = bytes(range(128, 256)) * (10 * MB // 128)
JSON_ROUTES = ["/api/v1/events", "/api/v1/events/batch", "/api/v1/webhooks", "/api/v1/auth-methods"]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[RunningApp, TenantCredentials]]:
    async with serve_app(settings_for(f"sqlite:///{tmp_path}/waypost.db"), Roles()) as running:
        yield running, await running.tenant()


@pytest.mark.parametrize("route", JSON_ROUTES)
async def test_a_10_mb_body_that_is_not_json_is_a_short_400(
    app: tuple[RunningApp, TenantCredentials], route: str
) -> None:
    running, tenant = app
    headers = {**tenant.headers, "Content-Type": "application/json"}
    for body in (NOT_JSON, NOT_UTF8):
        response = await running.client.post(route, content=body, headers=headers)
        assert_error(response, 400, "malformed JSON body")
        assert len(response.content) < 200


async def test_a_10_mb_unknown_key_is_not_echoed(app: tuple[RunningApp, TenantCredentials]) -> None:
    running, tenant = app
    key = "k" * (10 * MB)
    response = await running.client.post(
        "/api/v1/events",
        content=orjson.dumps({"type": "task_created", "data": {}, key: 1}),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "Extra inputs are not permitted")
    assert len(response.content) < 300
    assert "k" * 100 not in response.json()["reason"]


async def test_a_rejected_body_is_not_kept_after_the_answer(
    app: tuple[RunningApp, TenantCredentials],
) -> None:
    running, tenant = app
    headers = {**tenant.headers, "Content-Type": "application/json"}
    tracemalloc.start()
    try:
        response = await running.client.post("/api/v1/webhooks", content=NOT_JSON, headers=headers)
        assert_error(response, 400, "malformed JSON body")
        # The server lets go of the request once its answer is sent; give it a few turns of
        # the loop, not a collection: before, the body stayed until the next full one.
        for _ in range(50):
            if tracemalloc.get_traced_memory()[0] < MB:
                break
            await asyncio.sleep(0.02)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < MB, f"{held / MB:.1f} MB still held after answering a 10 MB body"
