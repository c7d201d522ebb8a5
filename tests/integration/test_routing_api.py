"""Conditional routing, flexible payloads, custom event types and change triggers over real
HTTP with real receivers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.test_events_api import post_event, settled, subscribe
from tests.integration.test_webhooks_api import assert_error
from tests.support.receiver import Receiver
from tests.support.server import RunningApp
from tests.support.tenants import TenantCredentials
from waypost.domain.catalog import EVENT_TYPES


@pytest.fixture
async def receiver() -> Any:
    async with Receiver() as started:
        yield started


def order(fleet_id: int, order_id: int = 2859) -> dict[str, Any]:
    """The seed's task_assigned_to_dp payload, for another order or carrier."""
    data = EVENT_TYPES["task_assigned_to_dp"].example_copy()
    data["id"] = order_id
    data["fleet_id"] = fleet_id
    return data


async def preview(
    app: RunningApp, tenant: TenantCredentials, webhook_id: str, sample: dict[str, Any]
) -> tuple[bytes, bool]:
    response = await app.client.post(
        f"/api/v1/webhooks/{webhook_id}/preview", json=sample, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return response.content, response.headers["x-waypost-filters-match"] == "true"


async def test_oms_erp_and_carrier_each_get_their_own_payload(
    running_app: RunningApp, receiver: Receiver
) -> None:
    """The seed's OMS/ERP example plus a carrier that only wants orders assigned to it."""
    tenant = await running_app.tenant()
    topic = {"event_types": ["task_assigned_to_dp"]}
    oms = await subscribe(running_app, tenant, receiver.url("/oms"), **topic)
    erp = await subscribe(
        running_app,
        tenant,
        receiver.url("/erp"),
        fields=["id", "external_id", "task_inventories[*].{name,quantity}"],
        **topic,
    )
    carrier = await subscribe(
        running_app,
        tenant,
        receiver.url("/carrier"),
        filters=[{"field": "fleet_id", "op": "eq", "value": 2899}],
        fields=["id", "fleet_id", "way_points[*].address", "customer.name"],
        **topic,
    )
    mine, other = order(2899, 1), order(3100, 2)
    previews = {
        name: {
            which: await preview(running_app, tenant, sub["id"], data)
            for which, data in (("mine", mine), ("other", other))
        }
        for name, sub in (("oms", oms), ("erp", erp), ("carrier", carrier))
    }
    for data in (mine, other):
        event_id = await post_event(running_app, tenant, type="task_assigned_to_dp", data=data)
        await settled(running_app, tenant, event_id)

    def bodies(path: str) -> list[bytes]:
        return [request.body for request in receiver.requests_for(path)]

    assert sorted(bodies("/oms")) == sorted(
        [previews["oms"]["mine"][0], previews["oms"]["other"][0]]
    )
    assert json.loads(bodies("/oms")[0]) in (mine, other)
    assert sorted(bodies("/erp")) == sorted(
        [previews["erp"]["mine"][0], previews["erp"]["other"][0]]
    )
    erp_body = json.loads(previews["erp"]["mine"][0])
    assert set(erp_body) == {"id", "external_id", "task_inventories"}
    assert all(set(item) <= {"name", "quantity"} for item in erp_body["task_inventories"])
    assert bodies("/carrier") == [previews["carrier"]["mine"][0]]
    assert previews["carrier"]["mine"][1] is True
    assert previews["carrier"]["other"][1] is False
    carrier_body = json.loads(bodies("/carrier")[0])
    assert set(carrier_body) == {"id", "fleet_id", "way_points", "customer"}
    assert carrier_body["customer"] == {"name": mine["customer"]["name"]}


async def test_preview_of_the_example_and_restore_default_data(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    created = await subscribe(
        running_app,
        tenant,
        "https://example.com/erp",
        event_types=["task_assigned_to_dp"],
        fields=["id", "customer.name"],
    )
    selected = await running_app.client.get(
        f"/api/v1/webhooks/{created['id']}/preview", headers=tenant.headers
    )
    example = EVENT_TYPES["task_assigned_to_dp"].example_copy()
    assert selected.json() == {
        "id": example["id"],
        "customer": {"name": example["customer"]["name"]},
    }
    restored = await running_app.client.post(
        f"/api/v1/webhooks/{created['id']}/fields/restore", headers=tenant.headers
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["fields"] is None
    full = await running_app.client.get(
        f"/api/v1/webhooks/{created['id']}/preview", headers=tenant.headers
    )
    assert full.json() == example
    other = await running_app.tenant("globex")
    hidden = await running_app.client.get(
        f"/api/v1/webhooks/{created['id']}/preview", headers=other.headers
    )
    assert_error(hidden, 404)


async def test_bad_filters_and_fields_are_400_naming_them(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    base = {"configuration": {"url": "https://example.com/x"}, "event_types": ["task_created"]}
    for extra, named in (
        ({"filters": [{"field": "fleet_id", "op": "like", "value": 1}]}, "filters[0].op"),
        ({"filters": [{"field": "way_points[", "value": 1}]}, "filters[0].field"),
        ({"fields": ["customer..name"]}, "fields[0]"),
    ):
        response = await running_app.client.post(
            "/api/v1/webhooks", json={**base, **extra}, headers=tenant.headers
        )
        assert_error(response, 400, named)


async def test_custom_event_types_are_the_tenants_own(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    other = await running_app.tenant("globex")
    custom = {
        "name": "pallet_scanned",
        "group": "warehouse",
        "description": "A pallet is scanned at a dock door.",
        "example": {"pallet": "P-1", "dock": 4, "weight_kg": 310.5},
    }
    created = await running_app.client.post(
        "/api/v1/event-types", json=custom, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["default_fields"] == ["pallet", "dock", "weight_kg"]
    assert created.json()["schema"]["properties"]["dock"] == {"type": ["integer", "null"]}
    again = await running_app.client.post(
        "/api/v1/event-types", json=custom, headers=tenant.headers
    )
    assert_error(again, 409, "pallet_scanned")
    builtin = await running_app.client.post(
        "/api/v1/event-types", json={**custom, "name": "task_created"}, headers=tenant.headers
    )
    assert_error(builtin, 409, "built-in")

    listed = (await running_app.client.get("/api/v1/event-types", headers=tenant.headers)).json()
    assert "pallet_scanned" in {item["name"] for item in listed["items"]}
    groups = {group["name"]: group for group in listed["groups"]}
    assert groups["warehouse"]["event_types"] == ["pallet_scanned"]
    theirs = (await running_app.client.get("/api/v1/event-types", headers=other.headers)).json()
    assert "pallet_scanned" not in {item["name"] for item in theirs["items"]}
    assert_error(
        await running_app.client.get("/api/v1/event-types/pallet_scanned", headers=other.headers),
        404,
    )
    assert_error(
        await running_app.client.post(
            "/api/v1/events", json={"type": "pallet_scanned", "data": {}}, headers=other.headers
        ),
        400,
        "unknown event type",
    )

    webhook = await subscribe(
        running_app, tenant, receiver.url("/dock"), event_types=[], event_groups=["warehouse"]
    )
    event_id = await post_event(
        running_app, tenant, type="pallet_scanned", data={"pallet": "P-9", "dock": 2}
    )
    await settled(running_app, tenant, event_id)
    assert [json.loads(request.body) for request in receiver.requests] == [
        {"pallet": "P-9", "dock": 2}
    ]
    in_use = await running_app.client.delete(
        "/api/v1/event-types/pallet_scanned", headers=tenant.headers
    )
    assert_error(in_use, 409, webhook["id"])
    await running_app.client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=tenant.headers)
    deleted = await running_app.client.delete(
        "/api/v1/event-types/pallet_scanned", headers=tenant.headers
    )
    assert deleted.status_code == 204


async def test_carrier_assignment_fires_on_change_not_on_creation(
    running_app: RunningApp, receiver: Receiver
) -> None:
    """Bringg: task_assigned_to_dp "is only triggered if carrier was changed. If the
    fleet_id value comes with the original order creation request, the webhook is not
    triggered"."""
    tenant = await running_app.tenant()
    await subscribe(running_app, tenant, receiver.url("/dp"), event_types=["task_assigned_to_dp"])

    async def snapshot(data: dict[str, Any]) -> list[dict[str, str]]:
        response = await running_app.client.post(
            f"/api/v1/entities/order/{data['id']}", json=data, headers=tenant.headers
        )
        assert response.status_code == 202, response.text
        events: list[dict[str, str]] = response.json()["events"]
        return events

    assert await snapshot(order(2899)) == []  # created with a carrier already set
    assert await snapshot({**order(2899), "title": "renamed"}) == []  # no carrier change
    [assigned] = await snapshot(order(3100))
    assert assigned["type"] == "task_assigned_to_dp"
    assert await snapshot({"id": 2859, "title": "partial snapshot"}) == []
    assert await snapshot({**order(3100), "fleet_id": None}) == []  # unassigned: not "assigned"
    [reassigned] = await snapshot(order(2899))
    for emitted in (assigned, reassigned):
        await settled(running_app, tenant, emitted["id"])
    assert [json.loads(request.body)["fleet_id"] for request in receiver.requests] == [3100, 2899]
    unknown = await running_app.client.post(
        "/api/v1/entities/parcel/1", json={"fleet_id": 1}, headers=tenant.headers
    )
    assert_error(unknown, 400, "order")
