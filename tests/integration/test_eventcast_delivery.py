"""Event Cast subscriptions end to end in one process: Bring's body and headers, lifetime."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.test_events_api import post_event, settled
from tests.integration.test_webhooks_api import assert_error
from tests.support.databases import settings_for
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import TenantCredentials

BRING_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")


@pytest.fixture
async def receiver() -> Any:
    async with Receiver() as started:
        yield started


async def track(
    app: RunningApp, tenant: TenantCredentials, url: str, tracking_id: str
) -> dict[str, Any]:
    response = await app.client.post(
        "/api/v1/webhooks",
        json={
            "trackingId": tracking_id,
            "configuration": {"url": url},
            "event_groups": ["IN_TRANSIT", "DELIVERED"],
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_parcel_events_arrive_in_brings_callback_shape(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    await track(running_app, tenant, receiver.url("/bring"), "TESTPACKAGE1")
    await track(running_app, tenant, receiver.url("/elsewhere"), "OTHERPACKAGE")
    before = datetime.now(UTC).replace(microsecond=0)
    event_id = await post_event(
        running_app, tenant, type="IN_TRANSIT", trackingId="TESTPACKAGE1", data={"shipment": "S1"}
    )
    event = await settled(running_app, tenant, event_id)
    assert [item["status"] for item in event["deliveries"]] == ["delivered"]
    [request] = receiver.requests
    assert request.path == "/bring"
    body = json.loads(request.body)
    assert list(body) == ["status", "id", "shipment", "package", "created", "pushed"]
    assert body["status"] == "IN_TRANSIT"
    assert body["id"] == event_id
    assert (body["shipment"], body["package"]) == ("S1", "TESTPACKAGE1")
    for key in ("created", "pushed"):
        assert BRING_TIME.match(body[key]), body[key]
        assert datetime.strptime(body[key], "%Y-%m-%dT%H:%M:%S%z") >= before
    assert request.header("X-Bring-Application") == "waypost"
    assert request.header("X-bring-Version") == "1"
    assert request.header("X-bring-Correlation") == event["deliveries"][0]["id"]


async def test_a_delivered_parcel_ends_its_subscription(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    created = await track(running_app, tenant, receiver.url("/bring"), "TESTPACKAGEDELIVERED")
    delivered = await post_event(
        running_app, tenant, type="DELIVERED", trackingId="TESTPACKAGEDELIVERED", data={}
    )
    event = await settled(running_app, tenant, delivered)
    assert event["deliveries"][0]["status"] == "delivered"
    ended = await running_app.client.get(
        f"/api/v1/webhooks/{created['id']}", headers=tenant.headers
    )
    assert_error(ended, 404)
    later = await post_event(
        running_app, tenant, type="IN_TRANSIT", trackingId="TESTPACKAGEDELIVERED", data={}
    )
    assert (await settled(running_app, tenant, later))["deliveries"] == []
    assert len(receiver.requests) == 1


async def test_pending_retries_of_an_ended_subscription_are_cancelled(
    database_url: str, receiver: Receiver
) -> None:
    receiver.script("/down", [Reply(503)])
    async with serve_app(settings_for(database_url, retry_delays="1.5,1.5,1.5")) as app:
        tenant = await app.tenant()
        body = {"configuration": {"url": receiver.url("/down")}, "event_types": ["task_created"]}
        created = (
            await app.client.post("/api/v1/webhooks", json=body, headers=tenant.headers)
        ).json()
        event_id = await post_event(app, tenant)
        await receiver.wait_for(1, within=10)
        deleted = await app.client.delete(
            f"/api/v1/webhooks/{created['id']}", headers=tenant.headers
        )
        assert deleted.status_code == 204
        event = await settled(app, tenant, event_id)
        await asyncio.sleep(0.2)
    [delivery] = event["deliveries"]
    assert delivery["status"] == "cancelled"
    assert delivery["attempt_count"] == 1
    assert len(receiver.requests) == 1
