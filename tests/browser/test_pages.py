"""Every main page: axe-core finds no serious or critical violation, nothing is logged to
the console, the page reads with JavaScript off, and a screenshot goes to docs/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS, Server, Tenant, sign_in
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow

BLOCKING = {"serious", "critical"}


@dataclass(frozen=True, kw_only=True)
class Data:
    tenant: Tenant
    webhook_id: str
    delivery_id: str

    def pages(self) -> dict[str, tuple[str, str]]:
        """Screenshot name: (path, heading the page starts with)."""
        return {
            "overview": ("/", "Overview"),
            "webhooks": ("/webhooks", "Settings > Webhooks"),
            "add-webhook-event": ("/webhooks/new", "Add Webhook: select an event"),
            "add-webhook": ("/webhooks/new?event_type=task_assigned_to_dp", "Add Webhook:"),
            "webhook": (f"/webhooks/{self.webhook_id}", "Webhook:"),
            "deliveries": ("/deliveries", "Deliveries"),
            "delivery": (f"/deliveries/{self.delivery_id}", "Delivery"),
            "undelivered-report": ("/undelivered", "Undelivered Webhooks Report"),
        }


def _wait_finished(api: httpx.Client, count: int) -> list[dict[str, str]]:
    deadline = time.monotonic() + 30
    while True:
        items: list[dict[str, str]] = api.get("/api/v1/deliveries").json()["items"]
        if len([i for i in items if i["status"] in ("delivered", "failed")]) >= count:
            return items
        if time.monotonic() > deadline:
            raise TimeoutError(str(items))
        time.sleep(0.1)


@pytest.fixture(scope="module")
def data(server: Server) -> Iterator[Data]:
    """A tenant with two endpoints and some delivered and failed deliveries, so every page
    and chart has something to show."""
    receiver = ThreadedReceiver()
    receiver.start()
    receiver.script("/carrier", [Reply(200)] * 6 + [Reply(404)] * 2)
    receiver.script("/erp", [Reply(410)] * 3)
    tenant = server.tenant("pages")
    try:
        with server.api(tenant) as api:
            ids = []
            for path, extra in (
                ("/carrier", {"filters": [{"field": "fleet_id", "op": "eq", "value": 2899}]}),
                ("/erp", {"fields": ["id", "external_id", "task_inventories[*].{name,quantity}"]}),
            ):
                body = {
                    "configuration": {
                        "url": receiver.url(path),
                        "headers": [{"key": "Authorization", "value": "Bearer hidden"}],
                    },
                    "event_types": ["task_assigned_to_dp"],
                    **extra,
                }
                created = api.post("/api/v1/webhooks", json=body)
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            for number in range(8):
                event = {"type": "task_assigned_to_dp", "data": {"id": number, "fleet_id": 2899}}
                assert api.post("/api/v1/events", json=event).status_code == 202
            items = _wait_finished(api, 16)
            failed = next(i for i in items if i["status"] == "failed")
            yield Data(tenant=tenant, webhook_id=ids[0], delivery_id=failed["id"])
    finally:
        receiver.stop()


def test_every_page_passes_axe_and_is_saved_as_a_screenshot(page: Page, data: Data) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto("/sign-in")
    _check_accessible(page, "sign-in")
    page.screenshot(path=SCREENSHOTS / "sign-in.png")
    sign_in(page, data.tenant)
    for name, (path, heading) in data.pages().items():
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        _check_accessible(page, name)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=name != "add-webhook")


def _check_accessible(page: Page, name: str) -> None:
    violations = Axe().run(page).response["violations"]
    blocking = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in BLOCKING
    ]
    assert blocking == [], f"{name}: {blocking}"


def test_every_page_reads_without_javascript(browser: Browser, server: Server, data: Data) -> None:
    context = browser.new_context(base_url=server.base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, data.tenant)
        for path, heading in data.pages().values():
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        page.goto("/")
        expect(page.get_by_role("cell", name="404", exact=True)).to_be_visible()
        page.goto("/webhooks")
        expect(page.get_by_text("header Authorization: set").first).to_be_visible()
        page.goto(f"/webhooks/{data.webhook_id}")
        expect(page.locator("#selected-data")).to_contain_text('"fleet_id": 2899')
        assert "Bearer hidden" not in page.content()
    finally:
        context.close()


def test_keyboard_alone_signs_in_and_reaches_add_webhook(page: Page, data: Data) -> None:
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(data.tenant.email)
    page.keyboard.press("Tab")
    page.keyboard.type(data.tenant.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    page.goto("/webhooks")
    page.get_by_role("link", name="Add Webhook").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/webhooks/new")
    page.get_by_label("Event", exact=True).focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Add Webhook:")
