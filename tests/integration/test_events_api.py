"""Events, deliveries, replay, secret rotation and test pushes over real HTTP, on both databases.

Each test runs the app with its dispatcher and a real receiver on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.integration.test_webhooks_api import assert_error
from tests.support.databases import settings_for
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import TenantCredentials
from waypost.domain.masking import MASK

TERMINAL = {"delivered", "failed", "cancelled"}


@pytest.fixture
async def receiver() -> Any:
    async with Receiver() as started:
        yield started


async def subscribe(
    app: RunningApp, tenant: TenantCredentials, url: str, **extra: Any
) -> dict[str, Any]:
    body = {"configuration": {"url": url}, "event_types": ["task_created"], **extra}
    response = await app.client.post("/api/v1/webhooks", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def post_event(app: RunningApp, tenant: TenantCredentials, **body: Any) -> str:
    body = {"type": "task_created", "data": {"id": 1}, **body}
    response = await app.client.post("/api/v1/events", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    event_id: str = response.json()["id"]
    return event_id


async def settled(
    app: RunningApp, tenant: TenantCredentials, event_id: str, within: float = 20
) -> dict[str, Any]:
    """The event once every delivery is terminal."""
    deadline = time.monotonic() + within
    while True:
        response = await app.client.get(f"/api/v1/events/{event_id}", headers=tenant.headers)
        event: dict[str, Any] = response.json()
        if all(item["status"] in TERMINAL for item in event["deliveries"]):
            return event
        if time.monotonic() > deadline:
            raise TimeoutError(json.dumps(event, indent=1))
        await asyncio.sleep(0.05)


async def test_unknown_types_and_malformed_events_are_400(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    client = running_app.client
    unknown = await client.post(
        "/api/v1/events", json={"type": "task_creatd", "data": {}}, headers=tenant.headers
    )
    assert_error(unknown, 400, "did you mean task_created")
    not_object = await client.post(
        "/api/v1/events", json={"type": "task_created", "data": [1]}, headers=tenant.headers
    )
    assert_error(not_object, 400, "data")
    in_batch = await client.post(
        "/api/v1/events/batch",
        json={"events": [{"type": "task_created", "data": {}}, {"type": "nope", "data": {}}]},
        headers=tenant.headers,
    )
    assert_error(in_batch, 400, "events[1].type")


async def test_batch_takes_up_to_a_thousand_events(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    event = {"type": "task_created", "data": {"id": 1}}
    accepted = await running_app.client.post(
        "/api/v1/events/batch", json={"events": [event] * 1000}, headers=tenant.headers
    )
    assert accepted.status_code == 202, accepted.text
    assert len(set(accepted.json()["ids"])) == 1000
    refused = await running_app.client.post(
        "/api/v1/events/batch", json={"events": [event] * 1001}, headers=tenant.headers
    )
    assert_error(refused, 400, "events")


async def test_idempotency_key_returns_the_first_event_and_sends_once(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    other = await running_app.tenant("globex")
    await subscribe(running_app, tenant, receiver.url("/once"))
    first = await post_event(running_app, tenant, idempotency_key="order-17-created")
    again = await post_event(
        running_app, tenant, idempotency_key="order-17-created", data={"id": 2}
    )
    assert again == first
    elsewhere = await post_event(running_app, other, idempotency_key="order-17-created")
    assert elsewhere != first
    await settled(running_app, tenant, first)
    await asyncio.sleep(0.3)
    assert [json.loads(request.body) for request in receiver.requests] == [{"id": 1}]


async def test_event_fans_out_to_matching_subscriptions_only(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    other = await running_app.tenant("globex")
    wanted = [await subscribe(running_app, tenant, receiver.url(f"/s{n}")) for n in range(3)]
    await subscribe(running_app, tenant, receiver.url("/drivers"), event_types=["user_created"])
    await subscribe(running_app, other, receiver.url("/other-tenant"))
    event_id = await post_event(running_app, tenant)
    event = await settled(running_app, tenant, event_id)
    assert {item["webhook_id"] for item in event["deliveries"]} == {sub["id"] for sub in wanted}
    assert {item["status"] for item in event["deliveries"]} == {"delivered"}
    assert sorted(request.path for request in receiver.requests) == ["/s0", "/s1", "/s2"]
    hidden = await running_app.client.get(f"/api/v1/events/{event_id}", headers=other.headers)
    assert_error(hidden, 404)


async def test_deliveries_list_filters_and_pages(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    receiver.script("/gone", [Reply(404)] * 5)
    good = await subscribe(running_app, tenant, receiver.url("/ok"))
    gone = await subscribe(running_app, tenant, receiver.url("/gone"))
    for number in range(5):
        await settled(
            running_app, tenant, await post_event(running_app, tenant, data={"n": number})
        )

    async def listing(**params: Any) -> dict[str, Any]:
        response = await running_app.client.get(
            "/api/v1/deliveries", params=params, headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    failed = await listing(status="failed")
    assert len(failed["items"]) == 5
    assert {item["webhook_id"] for item in failed["items"]} == {gone["id"]}
    assert {item["last_status_code"] for item in failed["items"]} == {404}
    assert len((await listing(webhook_id=good["id"]))["items"]) == 5

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = await listing(**params)
        seen.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 10

    bad_cursor = await running_app.client.get(
        "/api/v1/deliveries", params={"cursor": "not-a-cursor"}, headers=tenant.headers
    )
    assert_error(bad_cursor, 400, "cursor")
    naive = await running_app.client.get(
        "/api/v1/deliveries", params={"since": "2026-01-01T00:00:00"}, headers=tenant.headers
    )
    assert_error(naive, 400, "since")


async def test_retry_one_and_replay_many(running_app: RunningApp, receiver: Receiver) -> None:
    tenant = await running_app.tenant()
    other = await running_app.tenant("globex")
    receiver.script("/down", [Reply(404)] * 3)
    await subscribe(running_app, tenant, receiver.url("/down"))
    events = [await post_event(running_app, tenant, data={"n": number}) for number in range(3)]
    failed = [
        (await settled(running_app, tenant, event_id))["deliveries"][0] for event_id in events
    ]
    assert {item["status"] for item in failed} == {"failed"}

    first = failed[0]["id"]
    assert_error(
        await running_app.client.post(f"/api/v1/deliveries/{first}/retry", headers=other.headers),
        404,
    )
    retried = await running_app.client.post(
        f"/api/v1/deliveries/{first}/retry", headers=tenant.headers
    )
    assert retried.status_code == 202, retried.text
    await settled(running_app, tenant, events[0])
    detail = (
        await running_app.client.get(f"/api/v1/deliveries/{first}", headers=tenant.headers)
    ).json()
    assert detail["status"] == "delivered"
    assert [attempt["status_code"] for attempt in detail["attempts"]] == [404, 200]
    again = await running_app.client.post(
        f"/api/v1/deliveries/{first}/retry", headers=tenant.headers
    )
    assert_error(again, 409, "delivered")

    replayed = await running_app.client.post(
        "/api/v1/deliveries/replay", json={"event_types": ["task_created"]}, headers=tenant.headers
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"replayed": 2}
    for event_id in events[1:]:
        event = await settled(running_app, tenant, event_id)
        assert event["deliveries"][0]["status"] == "delivered"
    assert len(receiver.requests_for("/down")) == 6


async def test_rotated_secret_signs_beside_the_old_one(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    created = await subscribe(running_app, tenant, receiver.url("/signed"))
    rotated = await running_app.client.post(
        f"/api/v1/webhooks/{created['id']}/secret/rotate", headers=tenant.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != created["secret"]
    await settled(running_app, tenant, await post_event(running_app, tenant))
    [request] = receiver.requests
    headers = dict(request.headers)
    assert len(request.header("webhook-signature").split()) == 2  # type: ignore[union-attr]
    Webhook(new_secret).verify(request.body, headers)
    Webhook(created["secret"]).verify(request.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.body, headers)
    listed = await running_app.client.get(
        f"/api/v1/webhooks/{created['id']}", headers=tenant.headers
    )
    assert new_secret not in listed.text and created["secret"] not in listed.text


async def test_test_push_sends_one_signed_example(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    created = await subscribe(running_app, tenant, receiver.url("/probe"))
    pushed = await running_app.client.post(
        f"/api/v1/webhooks/{created['id']}/test", headers=tenant.headers
    )
    assert pushed.status_code == 202, pushed.text
    await receiver.wait_for(1, within=10)
    [request] = receiver.requests
    Webhook(created["secret"]).verify(request.body, dict(request.headers))
    assert json.loads(request.body)  # the catalog example of task_created
    other = await running_app.tenant("globex")
    hidden = await running_app.client.post(
        f"/api/v1/webhooks/{created['id']}/test", headers=other.headers
    )
    assert_error(hidden, 404)


async def test_event_type_catalog(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    listed = await running_app.client.get("/api/v1/event-types", headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    names = {item["name"] for item in body["items"]}
    assert {"task_created", "task_assigned_to_dp", "IN_TRANSIT", "DELIVERED"} <= names
    groups = {group["name"]: group for group in body["groups"]}
    assert "task_created" in groups["order"]["event_types"]
    assert len([g for g in groups.values() if g["dialect"] == "eventcast"]) == 18
    one = await running_app.client.get("/api/v1/event-types/task_created", headers=tenant.headers)
    assert one.status_code == 200 and one.json()["name"] == "task_created"
    missing = await running_app.client.get(
        "/api/v1/event-types/task_creatd", headers=tenant.headers
    )
    assert_error(missing, 404, "task_created")


async def test_test_pushes_in_flight_are_capped_per_user(
    database_url: str, receiver: Receiver
) -> None:
    receiver.default = Reply(delay=1.0)
    async with serve_app(settings_for(database_url, max_concurrent_tests=2)) as app:
        tenant = await app.tenant()
        created = await subscribe(app, tenant, receiver.url("/slow-probe"))
        path = f"/api/v1/webhooks/{created['id']}/test"
        statuses = [(await app.client.post(path, headers=tenant.headers)) for _ in range(3)]
        assert [response.status_code for response in statuses[:2]] == [202, 202]
        assert_error(statuses[2], 429, "decrease amount of requests")
        assert statuses[2].headers["retry-after"] == "1"
        await receiver.wait_for(2, within=10)
        await asyncio.sleep(1.2)
        assert (await app.client.post(path, headers=tenant.headers)).status_code == 202


async def test_nul_characters_are_bad_input_not_a_server_error(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    response = await running_app.client.post(
        "/api/v1/deliveries/replay",
        json={"event_types": ["task\u0000created"]},
        headers=tenant.headers,
    )
    if running_app.store.dialect == "postgresql":
        assert_error(response, 400, "NUL")
    else:  # SQLite stores NUL like any character: nothing matches
        assert response.json() == {"replayed": 0}


async def test_a_response_body_with_nul_characters_is_recorded(
    running_app: RunningApp, receiver: Receiver
) -> None:
    """PostgreSQL's text refuses NUL: the excerpt keeps a replacement character instead,
    and recording the attempt does not fail (it used to stall the recorder)."""
    tenant = await running_app.tenant()
    receiver.script("/hook", [Reply(200, body=b"ok\x00done")])
    await subscribe(running_app, tenant, receiver.url("/hook"))
    event = await settled(running_app, tenant, await post_event(running_app, tenant))
    [delivery] = event["deliveries"]
    assert delivery["status"] == "delivered"
    response = await running_app.client.get(
        f"/api/v1/deliveries/{delivery['id']}", headers=tenant.headers
    )
    [attempt] = response.json()["attempts"]
    assert attempt["response_excerpt"] == "ok\ufffddone"


async def test_each_attempt_keeps_its_request_headers_with_secrets_masked(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    receiver.script("/hook", [Reply(503), Reply(200)])
    await subscribe(
        running_app,
        tenant,
        receiver.url("/hook"),
        configuration={
            "url": receiver.url("/hook"),
            "headers": [{"key": "Authorization", "value": "Bearer top-secret-key"}],
        },
    )
    event = await settled(running_app, tenant, await post_event(running_app, tenant))
    [delivery] = event["deliveries"]
    response = await running_app.client.get(
        f"/api/v1/deliveries/{delivery['id']}", headers=tenant.headers
    )
    assert "top-secret-key" not in response.text
    attempts = response.json()["attempts"]
    assert [attempt["status_code"] for attempt in attempts] == [503, 200]
    for attempt, request in zip(attempts, receiver.requests, strict=True):
        sent = {name.lower(): value for name, value in attempt["request_headers"]}
        # What the receiver got, except the secrets: the credential and the signature.
        assert sent["content-type"] == "application/json"
        assert sent["webhook-id"] == request.header("webhook-id") == delivery["id"]
        assert sent["webhook-timestamp"] == request.header("webhook-timestamp")
        assert request.header("Authorization") == "Bearer top-secret-key"
        assert sent["authorization"] == sent["webhook-signature"] == MASK
