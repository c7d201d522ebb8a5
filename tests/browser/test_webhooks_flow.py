"""The seed's procedure in a browser: add a webhook with three URLs (static headers, JWT,
OAuth2), a routing condition and chosen fields; check Selected Data against the preview
API; restore default data; send a test; fail a delivery, retry it and replay it; sign out."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, sign_in
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow

STATIC_SECRET = "Bearer static-secret-4711"
JWT_KEY = "jwt-signing-key-of-at-least-32-bytes"
OAUTH_SECRET = "oauth-client-secret-0815"
TOKEN_REPLY = Reply(
    200,
    body=b'{"access_token": "oauth-token-1", "token_type": "Bearer", "expires_in": 3600}',
    headers={"Content-Type": "application/json"},
)


def _selected_data(page: Page) -> Any:
    return json.loads(page.locator("#selected-data").inner_text())


def _preview(api: httpx.Client, webhook_id: str) -> Any:
    response = api.get(f"/api/v1/webhooks/{webhook_id}/preview")
    assert response.status_code == 200, response.text
    return response.json()


def _wait_status(api: httpx.Client, webhook_id: str, status: str, count: int = 1) -> list[Any]:
    deadline = time.monotonic() + 30
    while True:
        items: list[Any] = api.get(
            "/api/v1/deliveries", params={"webhook_id": webhook_id, "status": status}
        ).json()["items"]
        if len(items) >= count:
            return items
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {status} delivery for {webhook_id}")
        time.sleep(0.1)


def _post_order(api: httpx.Client, order_id: int) -> None:
    event = {
        "type": "task_assigned_to_dp",
        "data": {"id": order_id, "fleet_id": 2899, "title": "x", "customer": {"name": "Ada"}},
    }
    assert api.post("/api/v1/events", json=event).status_code == 202


def _add_webhook(page: Page, receiver: ThreadedReceiver) -> None:
    page.get_by_role("link", name="Settings > Webhooks").click()
    page.get_by_role("link", name="Add Webhook").click()
    page.get_by_label("Search events").fill("carrier")
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Event", exact=True).select_option("task_assigned_to_dp")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Order Assigned to Carrier")
    # "Add URL" twice: three endpoints, one per authorization method.
    page.get_by_role("button", name="Add URL").click()
    page.get_by_role("button", name="Add URL").click()
    expect(page.locator("#url_2")).to_be_visible()

    page.locator("#url_0").fill(receiver.url("/static"))
    # Choosing a method opens its settings (the page's one script; without it, a click
    # on the settings' summary does the same).
    page.locator('input[name="auth_0"][value="static"]').check()
    page.locator("#header_key_0").fill("Authorization")
    page.locator("#header_value_0").fill(STATIC_SECRET)

    page.locator("#url_1").fill(receiver.url("/jwt"))
    page.locator('input[name="auth_1"][value="jwt"]').check()
    page.locator("#jwt_algorithm_1").select_option("HS256")
    page.locator("#jwt_key_1").fill(JWT_KEY)
    page.locator("#jwt_issuer_1").fill("acme")
    page.locator("#jwt_audience_1").fill("carrier-api")

    page.locator("#url_2").fill(receiver.url("/oauth"))
    page.locator('input[name="auth_2"][value="oauth2"]').check()
    page.locator("#oauth_client_id_2").fill("waypost")
    page.locator("#oauth_client_secret_2").fill(OAUTH_SECRET)
    page.locator("#oauth_auth_url_2").fill(receiver.url("").rstrip("/"))
    page.locator("#oauth_path_2").fill("/token")
    page.locator("#oauth_request_type_2").select_option("form")
    page.locator("#oauth_scope_2").fill("webhooks")

    page.get_by_label("Event field").select_option("fleet_id")
    page.get_by_label("Target value").fill("2899")
    page.get_by_label("Enable Flexible Webhook").check()
    page.locator('input[name="fields"][value="id"]').check()
    page.locator("li:has(> input[value='customer']) > details > summary").click()
    page.locator('input[name="fields"][value="customer.name"]').check()
    page.get_by_role("button", name="Add Webhook").click()
    page.wait_for_url("**/webhooks?notice=added")


def test_seed_procedure_end_to_end(server: Server, page: Page, receiver: ThreadedReceiver) -> None:
    tenant = server.tenant("flow")
    receiver.script("/token", [TOKEN_REPLY] * 5)
    sign_in(page, tenant)
    _add_webhook(page, receiver)

    expect(page.get_by_role("status")).to_have_text("Webhook added.")
    content = page.content()
    for secret in (STATIC_SECRET, JWT_KEY, OAUTH_SECRET):
        assert secret not in content
    expect(page.get_by_role("cell", name="header Authorization: set")).to_be_visible()
    expect(page.get_by_role("cell", name="JWT").first).to_be_visible()

    with server.api(tenant) as api:
        webhooks = {
            item["configuration"]["url"]: item for item in api.get("/api/v1/webhooks").json()
        }
        assert len(webhooks) == 3
        static = webhooks[receiver.url("/static")]
        assert static["filters"] == [{"field": "fleet_id", "op": "eq", "value": "2899"}]
        assert static["fields"] == ["id", "customer.name"]
        assert webhooks[receiver.url("/jwt")]["auth_method_id"] is not None
        assert webhooks[receiver.url("/oauth")]["auth_method_id"] is not None

        # Selected Data is what the preview API answers, through every change of fields.
        page.get_by_role("link", name=receiver.url("/static")).click()
        assert _selected_data(page) == _preview(api, static["id"])
        assert set(_selected_data(page)) == {"id", "customer"}
        page.locator('form[action$="/fields"] input[value="title"]').check()
        page.get_by_role("button", name="Save selected fields").click()
        expect(page.get_by_role("status")).to_have_text("Selected fields saved.")
        assert _selected_data(page) == _preview(api, static["id"])
        assert set(_selected_data(page)) == {"id", "customer", "title"}
        page.get_by_role("button", name="Restore Default Data").click()
        expect(page.get_by_role("status")).to_have_text("Default data restored.")
        assert api.get(f"/api/v1/webhooks/{static['id']}").json()["fields"] is None
        assert _selected_data(page) == _preview(api, static["id"])
        assert "way_points" in _selected_data(page)

        # Send test: the attempt appears on the page, its secret header masked.
        page.get_by_role("button", name="Send test").click()
        expect(page.locator("#test-status")).to_have_text("200")
        assert receiver.requests_for("/static")[0].header("Authorization") == STATIC_SECRET
        assert STATIC_SECRET not in page.content()
        expect(page.get_by_role("cell", name="•••••• (set)").first).to_be_visible()

        # A real event reaches all three, each authorized its own way.
        receiver.script("/static", [Reply(404)])
        _post_order(api, 1)
        receiver.wait_until(1, path="/jwt")
        receiver.wait_until(1, path="/oauth")
        token = (receiver.requests_for("/jwt")[0].header("Authorization") or "").split()[-1]
        claims = jwt.decode(token, JWT_KEY, algorithms=["HS256"], audience="carrier-api")
        assert claims["iss"] == "acme"
        assert receiver.requests_for("/oauth")[0].header("Authorization") == "Bearer oauth-token-1"
        [failed] = _wait_status(api, static["id"], "failed")

        # The failure in the log, its attempt, then Retry from the page.
        page.get_by_role("link", name="Deliveries", exact=True).click()
        page.get_by_label("Status").select_option("failed")
        page.get_by_label("URL", exact=True).select_option(static["id"])
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name=f"Details of delivery {failed['id']}").click()
        expect(page.locator("#delivery-status")).to_have_text("failed")
        expect(page.get_by_role("cell", name="404", exact=True)).to_be_visible()
        page.get_by_text("Request headers (secrets masked)").click()
        expect(page.get_by_role("cell", name="•••••• (set)").first).to_be_visible()
        page.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("status")).to_have_text("Delivery put back in the queue.")
        _wait_status(api, static["id"], "delivered")
        page.reload()
        expect(page.locator("#delivery-status")).to_have_text("delivered")

        # Another failure, replayed with "Replay all failed" for this endpoint's filter.
        receiver.script("/static", [Reply(404)])
        _post_order(api, 2)
        _wait_status(api, static["id"], "failed")
        page.goto(f"/deliveries?webhook_id={static['id']}")
        page.get_by_role("button", name="Replay all failed").click()
        expect(page.get_by_role("status")).to_have_text(
            "1 failed deliveries put back in the queue."
        )
        _wait_status(api, static["id"], "delivered", count=2)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")
    page.goto("/webhooks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
