"""Browser tests: Debian's Chromium driven by Playwright against a real ``waypost serve``.

Chromium comes from Debian (``make test`` installs it), never from
``playwright install``. Without it these tests skip locally and fail under
``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.support.deployment import create_tenant
from tests.support.process import waypost_serve
from tests.support.receiver import ThreadedReceiver

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass(frozen=True, kw_only=True)
class Tenant:
    tenant_id: str
    email: str
    password: str
    api_key: str


@dataclass(frozen=True, kw_only=True)
class Server:
    base_url: str
    database_url: str

    def tenant(self, name: str) -> Tenant:
        created = create_tenant(self.database_url, name)
        return Tenant(
            tenant_id=created["tenant_id"],
            email=f"{name}@example.com",
            password="a-long-password",
            api_key=created["api_key"],
        )

    def api(self, tenant: Tenant) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {tenant.api_key}"},
            timeout=30,
        )


# Per module, not per session: Playwright's sync API keeps an event loop running while it
# is open, and the asyncio tests that run after these need the thread's loop free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``waypost serve`` on SQLite per test module (it dispatches too)."""
    directory = tmp_path_factory.mktemp("dashboard")
    database_url = f"sqlite:///{directory}/waypost.db"
    with waypost_serve(database_url, directory) as (base_url, _process):
        yield Server(base_url=base_url, database_url=database_url)


@pytest.fixture
def receiver() -> Iterator[ThreadedReceiver]:
    running = ThreadedReceiver()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class ConsoleLog:
    """Console errors and uncaught page errors; every test asserts there were none."""

    errors: list[str]

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def console() -> Iterator[ConsoleLog]:
    log = ConsoleLog(errors=[])
    yield log
    assert log.errors == [], log.errors


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    opened = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    yield opened
    opened.close()


@pytest.fixture
def page(context: BrowserContext, console: ConsoleLog) -> Page:
    opened = context.new_page()
    console.watch(opened)
    return opened


def sign_in(page: Page, tenant: Tenant) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(tenant.email)
    page.get_by_label("Password").fill(tenant.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Overview")
