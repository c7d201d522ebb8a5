"""Requests that cannot be built or sent: refused when saved, and when stored all the same
(by an older version, or straight into the database) recorded as attempts that follow the
retry rules, never a dispatcher crash. Real sockets, both databases."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from tests.integration.test_events_api import post_event, settled, subscribe
from tests.integration.test_webhooks_api import assert_error, subscription
from tests.support.databases import settings_for
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import TenantCredentials
from waypost.domain.auth import JwtMethod
from waypost.domain.models import Header, SubscriptionSpec
from waypost.domain.signing import generate_secret

SECRET = "tms-api-key-never-shown-5521"
CONTROL = "must not contain control characters"


def stored_spec(url: str, **overrides: Any) -> SubscriptionSpec:
    """A subscription as the store keeps it, written without the API's checks."""
    values: dict[str, Any] = {
        "tracking_id": None,
        "url": url,
        "content_type": "application/json",
        "headers": (),
        "event_groups": (),
        "event_types": ("task_created",),
        "secret": generate_secret(),
        "expires_at": None,
        **overrides,
    }
    return SubscriptionSpec(**values)


async def store_subscriptions(
    app: RunningApp, tenant: TenantCredentials, specs: dict[str, SubscriptionSpec]
) -> dict[str, str]:
    """Path -> webhook id of subscriptions written straight through the store."""
    ids = {}
    for path, spec in specs.items():
        [created] = await app.store.create_subscriptions(
            tenant_id=tenant.tenant_id,
            authenticator=tenant.key_id,
            specs=[spec],
            now=datetime.now(UTC),
        )
        ids[path] = created.id
    return ids


async def attempts_of(app: RunningApp, tenant: TenantCredentials, delivery_id: str) -> Any:
    response = await app.client.get(f"/api/v1/deliveries/{delivery_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()["attempts"]


async def undelivered_report(
    app: RunningApp, tenant: TenantCredentials, receiver: Receiver
) -> list[dict[str, str]]:
    """The rows of an Undelivered Webhooks Report of the last hour, requested as a user does:
    its link comes by callback."""
    now = datetime.now(UTC)
    requested = await app.client.post(
        "/api/v1/reports/undelivered-webhooks",
        json={
            "start_date": (now - timedelta(hours=1)).isoformat(),
            "end_date": (now + timedelta(hours=1)).isoformat(),
            "callback_url": receiver.url("/report-ready"),
        },
        headers=tenant.headers,
    )
    assert requested.status_code == 200, requested.text
    await receiver.wait_for(1, path="/report-ready")
    report_id = requested.json()["report_id"]
    report = await app.client.get(f"/api/v1/reports/{report_id}", headers=tenant.headers)
    assert report.json()["status"] == "ready", report.text
    link = urlsplit(report.json()["url"])
    downloaded = await app.client.get(f"{link.path}?{link.query}")
    assert downloaded.status_code == 200, downloaded.text
    return list(csv.DictReader(io.StringIO(downloaded.text, newline="")))


async def test_a_stored_request_that_cannot_be_built_fails_after_one_attempt_and_is_reported(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14: a header value with CR LF used to crash the dispatcher on every lease, for
    ever, with no attempt recorded. Now it is one failed attempt with its reason."""
    caplog.set_level(logging.INFO)
    settings = settings_for(database_url, report_poll_interval=0.1)
    async with Receiver() as receiver, serve_app(settings) as app:
        tenant = await app.tenant()
        old_jwt = await app.store.create_auth_method(
            tenant_id=tenant.tenant_id,
            name="old-jwt",
            method=JwtMethod(algorithm="HS256", key="k" * 32, prefix="Bearer\r\nX-Injected: 1"),
            now=datetime.now(UTC),
        )
        old_key = await app.store.create_auth_method(
            tenant_id=tenant.tenant_id,
            name="old-key",
            method=JwtMethod(algorithm="RS256", key="not a PEM key"),
            now=datetime.now(UTC),
        )
        webhooks = await store_subscriptions(
            app,
            tenant,
            {
                "/header": stored_spec(
                    receiver.url("/header"),
                    headers=(Header(key="X-Api-Key", value=f"{SECRET}\r\nX-Injected: 1"),),
                ),
                "/nul": stored_spec(
                    receiver.url("/nul"), headers=(Header(key="X-Api-Key", value=f"{SECRET}\0"),)
                ),
                "/content-type": stored_spec(
                    receiver.url("/content-type"), content_type="application/json\nX-Injected: 1"
                ),
                "/jwt-prefix": stored_spec(receiver.url("/jwt-prefix"), auth_method_id=old_jwt.id),
                "/jwt-key": stored_spec(receiver.url("/jwt-key"), auth_method_id=old_key.id),
                "/port": stored_spec("http://127.0.0.1:99999/port"),
                "/ok": stored_spec(receiver.url("/ok")),
            },
        )
        reasons = {
            "/header": "cannot build the request: header 'X-Api-Key': value " + CONTROL,
            "/nul": "cannot build the request: header 'X-Api-Key': value " + CONTROL,
            "/content-type": "cannot build the request: header 'Content-Type': value " + CONTROL,
            "/jwt-prefix": "cannot build the request: header 'Authorization': value " + CONTROL,
            "/jwt-key": "auth method: private_key: cannot sign RS256 with it",
            "/port": "refused target: port must be a number from 1 to 65535",
        }

        event = await settled(app, tenant, await post_event(app, tenant))
        deliveries = {item["webhook_id"]: item for item in event["deliveries"]}
        assert deliveries[webhooks["/ok"]]["status"] == "delivered"
        failed_ids = {}
        for path, reason in reasons.items():
            delivery = deliveries[webhooks[path]]
            assert (delivery["status"], delivery["attempt_count"]) == ("failed", 1), path
            assert delivery["last_error"].startswith(reason), (path, delivery["last_error"])
            [attempt] = await attempts_of(app, tenant, delivery["id"])
            assert attempt["status_code"] is None
            assert attempt["error"].startswith(reason), path
            failed_ids[delivery["id"]] = reason
        assert [request.path for request in receiver.requests] == ["/ok"]

        rows = await undelivered_report(app, tenant, receiver)
        assert {row["delivery_id"]: row["attempts"] for row in rows} == dict.fromkeys(
            failed_ids, "1"
        )
        for row in rows:
            assert row["last_error"].startswith(failed_ids[row["delivery_id"]])

        assert "deliver_crashed" not in caplog.text
        logged = [r for r in caplog.records if r.getMessage().startswith("deliver_failed_locally")]
        # A malformed URL is the sender's refusal, like a private target, not a local failure.
        local = [reason for reason in reasons.values() if not reason.startswith("refused")]
        assert len(logged) == len(local)
        assert all(record.exc_info is None for record in logged), "no traceback: not a defect"
        listed = await app.client.get("/api/v1/deliveries?limit=100", headers=tenant.headers)
        for text in (caplog.text, listed.text, str(rows)):
            assert SECRET not in text


async def test_exceptions_on_the_send_path_are_attempts_retried_then_failed(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A signing secret that is not base64 (a corrupted row) raises while signing; a token
    endpoint answering a token with a line break used to raise while sending. Both are
    attempts, retried on the schedule, failed after the last retry."""
    caplog.set_level(logging.INFO)
    async with Receiver() as receiver, serve_app(settings_for(database_url)) as app:
        tenant = await app.tenant()
        receiver.script(
            "/token",
            [Reply(200, body=orjson.dumps({"access_token": "tok\r\nX-Injected: 1"}))] * 4,
        )
        method = await app.client.post(
            "/api/v1/auth-methods",
            json={
                "name": "tms",
                "type": "oauth2",
                "client_id": "waypost",
                "client_secret": "client-secret-3391",
                "auth_url": receiver.url(),
                "path": "/token",
            },
            headers=tenant.headers,
        )
        assert method.status_code == 201, method.text
        token_hook = await subscribe(
            app, tenant, receiver.url("/oauth"), auth_method_id=method.json()["id"]
        )
        webhooks = await store_subscriptions(
            app, tenant, {"/corrupt": stored_spec(receiver.url("/corrupt"), secret="whsec_abc")}
        )

        event = await settled(app, tenant, await post_event(app, tenant))
        deliveries = {item["webhook_id"]: item for item in event["deliveries"]}
        expected = {
            webhooks["/corrupt"]: "internal error: binascii.Error (see the log)",
            token_hook["id"]: (
                f"token request to {receiver.url('/token')} failed: the access_token " + CONTROL
            ),
        }
        for webhook_id, reason in expected.items():
            delivery = deliveries[webhook_id]
            assert (delivery["status"], delivery["attempt_count"]) == ("failed", 4)
            assert delivery["last_error"] == reason
            attempts = await attempts_of(app, tenant, delivery["id"])
            assert [attempt["error"] for attempt in attempts] == [reason] * 4
        assert {request.path for request in receiver.requests} == {"/token"}

        assert "deliver_crashed" not in caplog.text
        defects = [
            record
            for record in caplog.records
            if record.getMessage().startswith("deliver_failed_locally")
        ]
        assert len(defects) == 4
        assert all(record.exc_info is not None for record in defects), "defects: with traceback"
        assert "tok\r\n" not in caplog.text


async def test_headers_and_content_types_that_cannot_be_sent_are_refused(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    client = running_app.client

    def configuration(**fields: Any) -> dict[str, Any]:
        return {"configuration": {"url": "http://example.com/hook", **fields}}

    refused: list[tuple[dict[str, Any], str]] = [
        (
            configuration(headers=[{"key": "X-Key", "value": f"{SECRET}{control}X: 1"}]),
            "configuration.headers[0].value: " + CONTROL,
        )
        for control in ("\r\n", "\r", "\n", "\0")
    ]
    refused += [
        (
            configuration(headers=[{"key": "X Key", "value": SECRET}]),
            "configuration.headers[0].key: must be an HTTP token",
        ),
        (
            configuration(content_type="application/json\r\nX-Injected: 1"),
            "configuration.content_type: " + CONTROL,
        ),
        (configuration(content_type="json"), "configuration.content_type: must be a media type"),
    ]
    for change, reason in refused:
        response = await client.post(
            "/api/v1/webhooks", json=subscription(**change), headers=tenant.headers
        )
        assert_error(response, 400, reason)
        assert SECRET not in response.text
        batch = {**subscription(**change), "trackingIds": ["B1", "B2"]}
        del batch["trackingId"]
        response = await client.post("/batch/api/v1/webhooks", json=batch, headers=tenant.headers)
        assert_error(response, 400, reason)
    assert (await client.get("/api/v1/webhooks", headers=tenant.headers)).json() == []

    fine = subscription(
        configuration={
            "url": "http://example.com/hook",
            "content_type": "application/json; charset=utf-8",
            "headers": [{"key": "X-Key", "value": "tab\tis fine, é too"}],
        }
    )
    created = await client.post("/api/v1/webhooks", json=fine, headers=tenant.headers)
    assert created.status_code == 201, created.text
    patched = await client.patch(
        f"/api/v1/webhooks/{created.json()['id']}",
        json={"headers": [{"key": "X-Key", "value": f"{SECRET}\nX-Injected: 1"}]},
        headers=tenant.headers,
    )
    assert_error(patched, 400, "headers[0].value: " + CONTROL)
    assert SECRET not in patched.text


async def test_auth_method_headers_and_prefixes_that_cannot_be_sent_are_refused(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    client = running_app.client
    jwt = {"name": "carrier", "type": "jwt", "signature": {"key": "k" * 32}}
    oauth2 = {
        "name": "tms",
        "type": "oauth2",
        "client_id": "waypost",
        "client_secret": "client-secret-3391",
        "auth_url": "https://auth.example.com",
    }
    for body, reason in [
        ({**jwt, "prefix": "Bearer\r\nX-Injected: 1"}, "prefix: " + CONTROL),
        ({**jwt, "prefix": "Bearer\0"}, "prefix: " + CONTROL),
        ({**jwt, "header": "Authorization\r\nX-Injected"}, "header: must be an HTTP token"),
        (
            {**oauth2, "headers": [{"key": "X-Tenant", "value": f"{SECRET}\n"}]},
            "headers[0].value: " + CONTROL,
        ),
        (
            {**oauth2, "headers": [{"key": "X:Tenant", "value": SECRET}]},
            "headers[0].key: must be an HTTP token",
        ),
    ]:
        response = await client.post("/api/v1/auth-methods", json=body, headers=tenant.headers)
        assert_error(response, 400, reason)
        assert SECRET not in response.text
    created = await client.post("/api/v1/auth-methods", json=jwt, headers=tenant.headers)
    assert created.status_code == 201, created.text
    patched = await client.patch(
        f"/api/v1/auth-methods/{created.json()['id']}",
        json={"prefix": "Bearer\r\nX-Injected: 1"},
        headers=tenant.headers,
    )
    assert_error(patched, 400, "prefix: " + CONTROL)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


async def test_the_dashboard_shows_an_unsendable_header_as_an_error(
    running_app: RunningApp,
) -> None:
    """In the "Add Webhook" form, and in "Send test" of one stored before the rules."""
    tenant = await running_app.tenant()
    client = running_app.client
    sign_in = await client.get("/sign-in")
    signed_in = await client.post(
        "/sign-in",
        data={
            "email": tenant.email,
            "password": tenant.password,
            "csrf_token": _csrf(sign_in.text),
        },
    )
    assert signed_in.status_code == 303, signed_in.text
    form = await client.get("/webhooks/new?event_type=task_created")
    assert form.status_code == 200, form.text
    posted = await client.post(
        "/webhooks/new",
        data={
            "csrf_token": _csrf(form.text),
            "event_type": "task_created",
            "url_count": "1",
            "url_0": "http://127.0.0.1:9/hook",
            "auth_0": "static",
            "header_key_0": "X-Api-Key",
            "header_value_0": f"{SECRET}\r\nX-Injected: 1",
            "action": "create",
        },
    )
    assert posted.status_code == 200, posted.text
    assert f'role="alert">URL 1: configuration.headers[0].value: {CONTROL}</p>' in posted.text, (
        posted.text
    )
    assert SECRET not in posted.text
    listed = await client.get("/api/v1/webhooks", headers=tenant.headers)
    assert listed.json() == []

    async with Receiver() as receiver:
        stored = await store_subscriptions(
            running_app,
            tenant,
            {
                "/old": stored_spec(
                    receiver.url("/old"),
                    headers=(Header(key="X-Api-Key", value=f"{SECRET}\r\nX-Injected: 1"),),
                )
            },
        )
        detail = await client.get(f"/webhooks/{stored['/old']}")
        assert detail.status_code == 200, detail.text
        tested = await client.post(
            f"/webhooks/{stored['/old']}/test", data={"csrf_token": _csrf(detail.text)}
        )
    assert tested.status_code == 200, tested.text
    assert receiver.requests == []
    assert "cannot build the request: header &#39;X-Api-Key&#39;: value " + CONTROL in tested.text
    assert SECRET not in tested.text
