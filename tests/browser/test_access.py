"""Who sees what: two tenants' admins see only their own data; sign-in, session cookie,
CSRF and the slowdown after failed sign-ins; the undelivered report's download."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import Server, Tenant, sign_in
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow


def _subscribe_and_fail(
    server: Server, tenant: Tenant, receiver: ThreadedReceiver
) -> tuple[str, str]:
    """A subscription of ``tenant`` whose one delivery failed: (webhook id, delivery id)."""
    path = f"/{tenant.tenant_id}"
    receiver.script(path, [Reply(404)])
    with server.api(tenant) as api:
        created = api.post(
            "/api/v1/webhooks",
            json={"configuration": {"url": receiver.url(path)}, "event_types": ["task_created"]},
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        event = {"type": "task_created", "data": {"id": 1, "title": "OSLO"}}
        assert api.post("/api/v1/events", json=event).status_code == 202
        deadline = time.monotonic() + 30
        while not (
            failed := api.get(
                "/api/v1/deliveries", params={"webhook_id": webhook_id, "status": "failed"}
            ).json()["items"]
        ):
            assert time.monotonic() < deadline, "the delivery did not fail"
            time.sleep(0.1)
    return webhook_id, failed[0]["id"]


def test_a_tenant_sees_only_its_own_data(
    browser: Browser, server: Server, receiver: ThreadedReceiver
) -> None:
    first, second = server.tenant("first"), server.tenant("second")
    first_webhook, first_delivery = _subscribe_and_fail(server, first, receiver)
    second_webhook, _second_delivery = _subscribe_and_fail(server, second, receiver)
    context = browser.new_context(base_url=server.base_url)
    try:
        page = context.new_page()
        sign_in(page, second)
        page.goto("/webhooks")
        expect(page.get_by_role("link", name=receiver.url(f"/{second.tenant_id}"))).to_be_visible()
        assert first.tenant_id not in page.content()
        page.goto("/deliveries")
        assert first_delivery not in page.content()
        expect(page.get_by_role("row")).to_have_count(2)  # the header and its one delivery
        page.goto("/")
        assert first.tenant_id not in page.content()
        for path in (
            f"/webhooks/{first_webhook}",
            f"/deliveries/{first_delivery}",
            f"/deliveries?webhook_id={second_webhook}",
        ):
            response = page.goto(path)
            assert response is not None
            assert response.status == (200 if second_webhook in path else 404), path
        retried = page.request.post(
            f"/deliveries/{first_delivery}/retry",
            form={"csrf_token": page.locator('input[name="csrf_token"]').first.input_value()},
        )
        assert retried.status == 404
    finally:
        context.close()


def test_session_cookie_csrf_and_sign_in_failures(
    context: BrowserContext, page: Page, server: Server
) -> None:
    tenant = server.tenant("guarded")
    page.goto("/webhooks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("E-mail").fill(tenant.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    page.get_by_label("Password").fill(tenant.password)
    page.get_by_role("button", name="Sign in").click()
    # Back to the page that asked for sign-in.
    page.wait_for_url("**/webhooks")
    [session] = [c for c in context.cookies() if c["name"] == "waypost_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["secure"] is False  # the public URL is http here; https sets Secure

    for path, form in (
        ("/webhooks/new", {"event_type": "task_created", "url_0": "http://127.0.0.1:9/x"}),
        ("/deliveries/replay", {}),
        ("/sign-out", {}),
    ):
        forged = page.request.post(path, form={**form, "csrf_token": "forged"})
        assert forged.status == 403, path
    assert page.request.get("/webhooks").status == 200, "a refused form does not sign out"


def test_repeated_failed_sign_ins_slow_down(page: Page, server: Server) -> None:
    tenant = server.tenant("hammered")
    page.goto("/sign-in")
    durations = []
    for _attempt in range(7):
        page.get_by_label("E-mail").fill(tenant.email)
        page.get_by_label("Password").fill("wrong")
        started = time.monotonic()
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
        durations.append(time.monotonic() - started)
    # Five free failures, then a wait of 0.5 s, then 1 s (the API's SignInThrottle).
    assert durations[5] >= 0.5
    assert durations[6] >= 1.0
    assert durations[6] > max(durations[:5])


def test_undelivered_report_is_requested_and_downloaded(
    page: Page, server: Server, receiver: ThreadedReceiver
) -> None:
    tenant = server.tenant("reporting")
    _webhook, delivery_id = _subscribe_and_fail(server, tenant, receiver)
    sign_in(page, tenant)
    page.get_by_role("link", name="Undelivered report").click()
    page.get_by_label("Types (none selected: all)").select_option("task_created")
    page.get_by_role("button", name="Request report").click()
    expect(page.get_by_role("status")).to_contain_text("Report requested")
    deadline = time.monotonic() + 30
    while page.locator(".report-status").first.inner_text() != "ready":
        assert time.monotonic() < deadline, "the report was not built"
        time.sleep(0.5)
        page.get_by_role("link", name="Refresh").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").first.click()
    csv_text = download.value.path().read_text()
    assert csv_text.startswith("webhook_type,event_id,delivery_id")
    assert delivery_id in csv_text
