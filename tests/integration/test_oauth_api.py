"""OAuth 2.0 access to the API: client-credentials tokens from authlib's server, scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.test_webhooks_api import assert_error
from tests.support.server import RunningApp
from tests.support.tenants import TenantCredentials


async def new_client(
    app: RunningApp, tenant: TenantCredentials, scopes: list[str]
) -> dict[str, Any]:
    response = await app.client.post(
        "/api/v1/api-clients",
        json={"name": "reports-bot", "scopes": scopes},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def token_for(app: RunningApp, client: dict[str, Any], **form: str) -> httpx.Response:
    return await app.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client["client_id"], client["client_secret"]),
    )


def bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_report_read_token_can_request_reports_but_not_write_webhooks(
    running_app: RunningApp,
) -> None:
    tenant = await running_app.tenant()
    client = await new_client(running_app, tenant, ["report_read"])
    granted = await token_for(running_app, client)
    assert granted.json()["scope"] == "report_read"
    assert granted.json()["token_type"] == "Bearer"
    assert granted.headers["cache-control"] == "no-store"
    headers = bearer(granted)
    now = datetime.now(UTC)
    report = await running_app.client.post(
        "/services/get_undelivered_webhooks",
        json={
            "start_date": (now - timedelta(days=1)).isoformat(),
            "end_date": now.isoformat(),
            "callback_url": "https://example.com/report-ready",
        },
        headers=headers,
    )
    assert report.status_code == 200, report.text
    create = await running_app.client.post(
        "/api/v1/webhooks",
        json={"configuration": {"url": "https://example.com/h"}, "event_types": ["task_created"]},
        headers=headers,
    )
    assert_error(create, 403, "webhooks_write")
    listing = await running_app.client.get("/api/v1/webhooks", headers=headers)
    assert_error(listing, 403, "webhooks_read")
    manage = await running_app.client.get("/api/v1/api-clients", headers=headers)
    assert_error(manage, 403, "API key")


async def test_token_endpoint_checks_credentials_and_scopes(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    client = await new_client(running_app, tenant, ["webhooks_read", "webhooks_write"])
    wrong = await running_app.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], "not-the-secret"),
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    in_body = await running_app.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": "webhooks_read",
        },
    )
    assert in_body.json()["scope"] == "webhooks_read"
    too_much = await token_for(running_app, client, scope="report_read")
    assert too_much.status_code == 400 and too_much.json()["error"] == "invalid_scope"
    full = bearer(await token_for(running_app, client))
    created = await running_app.client.post(
        "/api/v1/webhooks",
        json={"configuration": {"url": "https://example.com/h"}, "event_types": ["task_created"]},
        headers=full,
    )
    assert created.status_code == 201, created.text
    assert client["client_secret"] not in created.text
    listed = await running_app.client.get("/api/v1/api-clients", headers=tenant.headers)
    assert client["client_secret"] not in listed.text
    assert [item["client_id"] for item in listed.json()] == [client["client_id"]]

    revoked = await running_app.client.delete(
        f"/api/v1/api-clients/{client['id']}", headers=tenant.headers
    )
    assert revoked.status_code == 204
    refused = await token_for(running_app, client)
    assert refused.status_code == 401
    other = await running_app.tenant("globex")
    assert_error(
        await running_app.client.delete(
            f"/api/v1/api-clients/{client['id']}", headers=other.headers
        ),
        404,
    )
    tampered = {"Authorization": full["Authorization"][:-4] + "AAAA"}
    assert_error(await running_app.client.get("/api/v1/webhooks", headers=tampered), 401)
