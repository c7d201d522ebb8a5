"""The Event Cast subscription API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.support.databases import settings_for
from tests.support.server import RunningApp, serve_app
from waypost.domain.models import Header, SubscriptionSpec

EVENTCAST_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
SECRET_VALUE = "12345-67890-do-not-echo"


def subscription(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "trackingId": "TESTPACKAGEDELIVERED",
        "configuration": {
            "url": "http://localhost:8888/some/random/location",
            "content_type": "application/json",
            "headers": [
                {"key": "x-protection-header", "value": SECRET_VALUE},
                {"key": "x-required-company-header", "value": "company@identification"},
            ],
        },
        "event_groups": ["DELIVERED", "IN_TRANSIT", "DEVIATION"],
    }
    body.update(overrides)
    return body


def headers_totalling(length: int) -> list[dict[str, str]]:
    """Two headers whose ``key:value,key:value`` form is exactly ``length`` characters."""
    first_value = "v" * 100
    used = len("a:" + first_value + ",b:")
    return [{"key": "a", "value": first_value}, {"key": "b", "value": "w" * (length - used)}]


def assert_error(response: httpx.Response, status: int, reason_part: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"uuid", "status", "reason"}
    assert body["status"] == str(status)
    assert body["uuid"] == response.headers["x-request-id"]
    assert reason_part in body["reason"]


async def test_create_returns_event_cast_fields_without_header_values(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    response = await running_app.client.post(
        "/api/v1/webhooks", json=subscription(), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["id"]) <= 36
    assert body["authenticator"] == tenant.key_id
    assert len(body["authenticator"]) <= 40
    assert body["trackingId"] == "TESTPACKAGEDELIVERED"
    assert body["event_groups"] == ["DELIVERED", "IN_TRANSIT", "DEVIATION"]
    assert body["configuration"] == {
        "url": "http://localhost:8888/some/random/location",
        "content_type": "application/json",
        "headers": [{"key": "x-protection-header"}, {"key": "x-required-company-header"}],
    }
    assert EVENTCAST_TIME.match(body["created"]) and EVENTCAST_TIME.match(body["expiry"])
    created = datetime.strptime(body["created"], "%Y-%m-%dT%H:%M:%S%z")
    expiry = datetime.strptime(body["expiry"], "%Y-%m-%dT%H:%M:%S%z")
    assert expiry - created == timedelta(days=30)
    assert body["secret"].startswith("whsec_")
    assert SECRET_VALUE not in response.text


async def test_header_values_appear_in_no_response(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    client, headers = running_app.client, tenant.headers
    created = (await client.post("/api/v1/webhooks", json=subscription(), headers=headers)).json()
    batch_body = subscription(trackingIds=["A1", "A2"])
    del batch_body["trackingId"]
    responses = [
        await client.post("/batch/api/v1/webhooks", json=batch_body, headers=headers),
        await client.get("/api/v1/webhooks", headers=headers),
        await client.get(f"/api/v1/webhooks/{created['id']}", headers=headers),
        await client.delete(
            f"/api/v1/webhooks/{created['id']}?includeWebhook=true", headers=headers
        ),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert SECRET_VALUE not in response.text
        assert "company@identification" not in response.text
    assert "secret" not in responses[2].json()


@pytest.mark.parametrize(
    ("field", "accepted", "rejected"),
    [("headers", 1024, 1025), ("url", 250, 251), ("content_type", 40, 41)],
)
async def test_length_limits_at_their_boundary(
    running_app: RunningApp, field: str, accepted: int, rejected: int
) -> None:
    tenant = await running_app.tenant()

    def body(length: int, tracking_id: str) -> dict[str, Any]:
        configuration: dict[str, Any] = {"url": "http://example.com/hook"}
        if field == "headers":
            configuration["headers"] = headers_totalling(length)
        elif field == "url":
            configuration["url"] = "http://example.com/" + "p" * (length - 19)
        else:
            configuration["content_type"] = "application/" + "x" * (length - 12)
        return subscription(trackingId=tracking_id, configuration=configuration)

    ok = await running_app.client.post(
        "/api/v1/webhooks", json=body(accepted, "T1"), headers=tenant.headers
    )
    assert ok.status_code == 201, ok.text
    too_long = await running_app.client.post(
        "/api/v1/webhooks", json=body(rejected, "T2"), headers=tenant.headers
    )
    assert_error(too_long, 400, "url" if field == "url" else field)


async def test_list_limit_bounds(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    for limit, status in [("150000", 200), ("1", 200), ("150001", 400), ("0", 400), ("ten", 400)]:
        response = await running_app.client.get(
            f"/api/v1/webhooks?limit={limit}", headers=tenant.headers
        )
        if status == 200:
            assert response.status_code == 200 and response.json() == []
        else:
            assert_error(response, 400, "limit")


async def test_list_is_newest_first_and_honours_limit(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    ids = []
    for number in range(3):
        response = await running_app.client.post(
            "/api/v1/webhooks", json=subscription(trackingId=f"P{number}"), headers=tenant.headers
        )
        ids.append(response.json()["id"])
    listed = await running_app.client.get("/api/v1/webhooks", headers=tenant.headers)
    assert [item["id"] for item in listed.json()] == ids[::-1]
    limited = await running_app.client.get("/api/v1/webhooks?limit=2", headers=tenant.headers)
    assert [item["id"] for item in limited.json()] == ids[:0:-1]


async def test_authentication(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    other = await running_app.tenant("other")
    client = running_app.client
    assert_error(await client.get("/api/v1/webhooks"), 401, "Missing authentication headers")
    assert_error(
        await client.get("/api/v1/webhooks", headers={"Authorization": "Bearer wp_nope"}), 401
    )
    bring = {"x-mybring-api-uid": tenant.email, "X-MYBRING-API-KEY": tenant.api_key}
    assert (await client.get("/api/v1/webhooks", headers=bring)).status_code == 200
    mismatched = {"X-Mybring-API-Uid": other.email, "X-Mybring-API-Key": tenant.api_key}
    assert_error(await client.get("/api/v1/webhooks", headers=mismatched), 401)
    only_uid = {"X-Mybring-API-Uid": tenant.email}
    assert_error(await client.get("/api/v1/webhooks", headers=only_uid), 401, "Missing")


async def test_revoked_key_stops_working(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    await running_app.store.revoke_api_key(
        tenant_id=tenant.tenant_id, key_id=tenant.key_id, now=datetime.now(UTC)
    )
    running_app_services = running_app.client  # a fresh key digest is not cached yet
    response = await running_app_services.get("/api/v1/webhooks", headers=tenant.headers)
    assert_error(response, 401)


async def test_other_tenants_subscriptions_do_not_exist(running_app: RunningApp) -> None:
    owner = await running_app.tenant()
    stranger = await running_app.tenant("stranger")
    client = running_app.client
    created = (
        await client.post("/api/v1/webhooks", json=subscription(), headers=owner.headers)
    ).json()
    path = f"/api/v1/webhooks/{created['id']}"
    assert_error(await client.get(path, headers=stranger.headers), 404)
    assert_error(await client.delete(path, headers=stranger.headers), 404)
    assert_error(await client.post(path + "/test", headers=stranger.headers), 404)
    assert (await client.get("/api/v1/webhooks", headers=stranger.headers)).json() == []
    assert (await client.get(path, headers=owner.headers)).status_code == 200
    assert_error(await client.get("/api/v1/webhooks/not-an-id", headers=owner.headers), 404)


async def test_duplicate_subscription_is_409(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    client, headers = running_app.client, tenant.headers
    first = subscription(event_groups=["DELIVERED", "IN_TRANSIT"])
    assert (await client.post("/api/v1/webhooks", json=first, headers=headers)).status_code == 201
    overlapping = subscription(event_groups=["IN_TRANSIT", "RETURN"])
    assert_error(
        await client.post("/api/v1/webhooks", json=overlapping, headers=headers),
        409,
        "similar subscription",
    )
    other_events = subscription(event_groups=["RETURN"])
    assert (
        await client.post("/api/v1/webhooks", json=other_events, headers=headers)
    ).status_code == 201
    other_url = subscription(configuration={"url": "http://example.com/second"})
    assert (
        await client.post("/api/v1/webhooks", json=other_url, headers=headers)
    ).status_code == 201


async def test_batch_create_is_all_or_nothing(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    client, headers = running_app.client, tenant.headers
    base = subscription()
    del base["trackingId"]
    created = await client.post(
        "/batch/api/v1/webhooks", json={**base, "trackingIds": ["S1", "S2"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert [item["trackingId"] for item in created.json()] == ["S1", "S2"]
    clash = await client.post(
        "/batch/api/v1/webhooks", json={**base, "trackingIds": ["S3", "S1"]}, headers=headers
    )
    assert_error(clash, 409)
    listed = (await client.get("/api/v1/webhooks", headers=headers)).json()
    assert sorted(item["trackingId"] for item in listed) == ["S1", "S2"]
    too_many = [f"N{number}" for number in range(101)]
    assert_error(
        await client.post(
            "/batch/api/v1/webhooks", json={**base, "trackingIds": too_many}, headers=headers
        ),
        400,
        "trackingIds",
    )
    hundred = [f"M{number}" for number in range(100)]
    assert (
        await client.post(
            "/batch/api/v1/webhooks", json={**base, "trackingIds": hundred}, headers=headers
        )
    ).status_code == 201


async def test_delete(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    client, headers = running_app.client, tenant.headers
    first = (await client.post("/api/v1/webhooks", json=subscription(), headers=headers)).json()
    second = (
        await client.post("/api/v1/webhooks", json=subscription(trackingId="X"), headers=headers)
    ).json()
    gone = await client.delete(f"/api/v1/webhooks/{first['id']}", headers=headers)
    assert gone.status_code == 204 and gone.content == b""
    returned = await client.delete(
        f"/api/v1/webhooks/{second['id']}?includeWebhook=true", headers=headers
    )
    assert returned.status_code == 200
    assert returned.json()["id"] == second["id"]
    assert "secret" not in returned.json()
    for webhook_id in (first["id"], second["id"]):
        assert_error(await client.get(f"/api/v1/webhooks/{webhook_id}", headers=headers), 404)
        assert_error(await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=headers), 404)
    assert (await client.get("/api/v1/webhooks", headers=headers)).json() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_groups": ["NOT_A_GROUP"]}, "event_groups[0]"),
        ({"event_groups": ["*"]}, "wildcards"),
        ({"event_groups": ["ALL"]}, "wildcards"),
        ({"event_groups": []}, "event_groups"),
        ({"event_groups": "DELIVERED"}, "event_groups"),
        ({"trackingId": 12345}, "trackingId"),
        ({"configuration": {"url": "ftp://example.com/x"}}, "url"),
        ({"configuration": {"content_type": "application/json"}}, "configuration.url"),
        ({"configuration": {"url": "http://example.com", "headers": [{"key": "a"}]}}, "value"),
        ({"event_types": ["task_creatd"]}, "task_created"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_validation_failures_are_400(
    running_app: RunningApp, change: dict[str, Any], reason: str
) -> None:
    tenant = await running_app.tenant()
    response = await running_app.client.post(
        "/api/v1/webhooks", json=subscription(**change), headers=tenant.headers
    )
    assert_error(response, 400, reason)


async def test_malformed_json_is_400(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    response = await running_app.client.post(
        "/api/v1/webhooks",
        content=b'{"trackingId": ',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "JSON")


async def test_event_types_and_no_tracking_id(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    body = {
        "configuration": {"url": "http://example.com/orders"},
        "event_types": ["task_created", "task_done"],
    }
    response = await running_app.client.post("/api/v1/webhooks", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["trackingId"] is None and created["expiry"] is None
    assert created["event_types"] == ["task_created", "task_done"]
    assert created["event_groups"] == []


async def test_expired_subscriptions_are_not_listed(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    now = datetime.now(UTC)
    [expired] = await running_app.store.create_subscriptions(
        tenant_id=tenant.tenant_id,
        authenticator=tenant.key_id,
        specs=[
            SubscriptionSpec(
                tracking_id="OLD",
                url="http://example.com/old",
                content_type="application/json",
                headers=(Header(key="k", value="v"),),
                event_groups=("DELIVERED",),
                event_types=(),
                secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                expires_at=now - timedelta(seconds=1),
            )
        ],
        now=now - timedelta(days=30),
    )
    client = running_app.client
    assert (await client.get("/api/v1/webhooks", headers=tenant.headers)).json() == []
    assert_error(await client.get(f"/api/v1/webhooks/{expired.id}", headers=tenant.headers), 404)
    again = await client.post(
        "/api/v1/webhooks",
        json=subscription(trackingId="OLD", configuration={"url": "http://example.com/old"}),
        headers=tenant.headers,
    )
    assert again.status_code == 201


async def test_private_literal_target_is_refused_without_the_setting(database_url: str) -> None:
    settings = settings_for(database_url, allow_private_targets=False)
    async with serve_app(settings) as app:
        tenant = await app.tenant()
        for url in ("http://127.0.0.1:9000/hook", "http://10.1.2.3/x", "http://localhost/x"):
            response = await app.client.post(
                "/api/v1/webhooks",
                json=subscription(configuration={"url": url}),
                headers=tenant.headers,
            )
            assert_error(response, 400, "configuration.url")


async def test_rate_limit_answers_429_with_retry_after(database_url: str) -> None:
    settings = settings_for(database_url, rate_limit_per_second=1.0, rate_limit_burst=3)
    async with serve_app(settings) as app:
        tenant = await app.tenant()
        statuses = [
            (await app.client.get("/api/v1/webhooks", headers=tenant.headers)).status_code
            for _ in range(5)
        ]
        assert statuses[:3] == [200, 200, 200]
        limited = await app.client.get("/api/v1/webhooks", headers=tenant.headers)
        assert_error(limited, 429, "decrease amount of requests")
        assert int(limited.headers["retry-after"]) >= 1
        other = await app.tenant("other")
        assert (await app.client.get("/api/v1/webhooks", headers=other.headers)).status_code == 200


async def test_list_streams_valid_json_for_many(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    base = subscription()
    del base["trackingId"]
    for start in range(0, 1200, 100):
        ids = [f"B{number}" for number in range(start, start + 100)]
        await running_app.client.post(
            "/batch/api/v1/webhooks", json={**base, "trackingIds": ids}, headers=tenant.headers
        )
    response = await running_app.client.get("/api/v1/webhooks?limit=150000", headers=tenant.headers)
    listed = orjson.loads(response.content)
    assert len(listed) == 1200
    assert len({item["id"] for item in listed}) == 1200


async def test_listed_items_are_the_bytes_of_each_single_webhook(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    client, headers = running_app.client, tenant.headers
    method = await client.post(
        "/api/v1/auth-methods",
        json={"name": "tms", "type": "jwt", "signature": {"key": "k" * 32}},
        headers=headers,
    )
    assert method.status_code == 201, method.text
    variants: list[dict[str, Any]] = [
        subscription(),
        subscription(trackingId='Ø-ünïcode "quoted"', event_groups=["DEVIATION"]),
        {
            "configuration": {"url": "https://example.com/hook?a=1&b=é", "headers": []},
            "event_types": ["task_created", "task_assigned_to_dp"],
            "filters": [{"field": "fleet_id", "op": "eq", "value": 2899.5}],
            "fields": ["id", "customer.name"],
            "auth_method_id": method.json()["id"],
            "success_codes": "2xx",
            "retry_delays": [0.5, 30, 3600],
            "retry_jitter": 0.25,
            "require_ack": True,
        },
        {"configuration": {"url": "https://example.com/other"}, "event_types": ["task_created"]},
    ]
    for body in variants:
        created = await client.post("/api/v1/webhooks", json=body, headers=headers)
        assert created.status_code == 201, created.text
    listed = await client.get("/api/v1/webhooks", headers=headers)
    singles = [
        (await client.get(f"/api/v1/webhooks/{item['id']}", headers=headers)).content
        for item in listed.json()
    ]
    assert len(singles) == len(variants)
    assert listed.content == b"[" + b",".join(singles) + b"]"


async def test_retry_schedule_explicit_or_exponential_with_jitter(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    base = {"configuration": {"url": "https://example.com/hook"}, "event_types": ["task_created"]}

    async def create(**extra: Any) -> httpx.Response:
        return await running_app.client.post(
            "/api/v1/webhooks", json={**base, **extra}, headers=tenant.headers
        )

    backoff = await create(
        retry_backoff={"base": 30, "factor": 2, "retries": 6, "cap": 600}, retry_jitter=0.1
    )
    assert backoff.status_code == 201, backoff.text
    assert backoff.json()["retry_delays"] == [30, 60, 120, 240, 480, 600]
    assert backoff.json()["retry_jitter"] == 0.1
    explicit = await create(
        configuration={"url": "https://example.com/other"}, retry_delays=[5, 3600, 21600]
    )
    assert explicit.json()["retry_delays"] == [5, 3600, 21600]
    assert explicit.json()["retry_jitter"] == 0
    assert_error(
        await create(
            retry_delays=[5], retry_backoff={"base": 1, "factor": 2, "retries": 2, "cap": 9}
        ),
        400,
        "not both",
    )
    assert_error(await create(retry_jitter=0.6), 400, "retry_jitter")
    assert_error(
        await create(retry_backoff={"base": 1, "factor": 2, "retries": 21, "cap": 9}),
        400,
        "retries",
    )
