"""Bringg's Delivery Created acknowledgements and ID mapping, over real sockets, both databases."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.integration.test_events_api import post_event, settled, subscribe
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningApp

ACCEPTED = {
    "success": True,
    "delivery_id": "EXT-4711",
    "delivery_cost": 1250,
    "green_delivery": True,
    "fleet_extras": {"depot": "OSL-2"},
}


@pytest.fixture
async def receiver() -> Any:
    async with Receiver() as started:
        yield started


async def test_acknowledgements_are_checked_stored_and_reused(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    scripts = {
        "/carrier": Reply(200, body=orjson.dumps(ACCEPTED)),
        "/refuses": Reply(200, body=b'{"success": false, "error_message": "no capacity"}'),
        "/created": Reply(201, body=orjson.dumps(ACCEPTED)),
        "/garbage": Reply(200, body=b"<html>ok</html>"),
        "/no-id": Reply(200, body=b'{"success": true}'),
    }
    webhooks = {}
    for path, reply in scripts.items():
        receiver.script(path, [reply])
        types = ["delivery_created", "delivery_updated"] if path == "/carrier" else None
        webhooks[path] = await subscribe(
            running_app, tenant, receiver.url(path), event_types=types or ["delivery_created"]
        )
    order = {"id": 2859, "title": "GLS test automation order", "fleet_id": 2899}
    created = await post_event(running_app, tenant, type="delivery_created", data=order)
    event = await settled(running_app, tenant, created)
    outcome = {
        path: next(d for d in event["deliveries"] if d["webhook_id"] == webhook["id"])
        for path, webhook in webhooks.items()
    }
    assert (outcome["/carrier"]["status"], outcome["/carrier"]["delivery_id"]) == (
        "delivered",
        "EXT-4711",
    )
    for path, reason in (
        ("/refuses", "acknowledgement rejected: no capacity"),
        ("/created", "HTTP 201 is not retried"),
        ("/garbage", "acknowledgement is not JSON"),
        ("/no-id", "acknowledgement lacks delivery_id"),
    ):
        delivery = outcome[path]
        assert (delivery["status"], delivery["attempt_count"]) == ("failed", 1), path
        shown = delivery.get("error_message") or delivery["last_error"]
        assert reason in shown, (path, delivery)
    assert outcome["/refuses"]["error_message"] == "acknowledgement rejected: no capacity"

    mappings = await running_app.client.get(
        "/api/v1/mappings", params={"trackingId": "2859"}, headers=tenant.headers
    )
    assert mappings.status_code == 200, mappings.text
    [mapping] = mappings.json()["items"]
    assert mapping["webhook_id"] == webhooks["/carrier"]["id"]
    assert (mapping["delivery_id"], mapping["delivery_cost"]) == ("EXT-4711", 1250)
    assert (mapping["green_delivery"], mapping["fleet_extras"]) == (True, {"depot": "OSL-2"})
    assert mapping["source_delivery_id"] == outcome["/carrier"]["id"]

    updated = await post_event(
        running_app, tenant, type="delivery_updated", data={**order, "title": "moved"}
    )
    await settled(running_app, tenant, updated)
    later = receiver.requests_for("/carrier")[-1]
    assert json.loads(later.body) == {**order, "title": "moved", "delivery_id": "EXT-4711"}
    other = await running_app.tenant("globex")
    theirs = await running_app.client.get(
        "/api/v1/mappings", params={"trackingId": "2859"}, headers=other.headers
    )
    assert theirs.json()["items"] == []
