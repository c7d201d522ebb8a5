"""A database that cannot be reached: what the store raises, what the API answers, and
that an outage is logged once; PostgreSQL behind a relay the test cuts, SQLite locked
by another connection."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from tests.integration.test_webhooks_api import assert_error
from tests.support.databases import (
    PG_ADMIN_URL,
    PostgresTemplate,
    drop_database,
    settings_for,
)
from tests.support.process import free_port
from tests.support.receiver import Receiver
from tests.support.relay import Relay, relay
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import make_tenant
from waypost.app import Roles
from waypost.delivery.intake import Intake
from waypost.domain.keys import digest
from waypost.domain.models import NewEvent
from waypost.domain.values import NewDelivery
from waypost.errors import DatabaseUnavailable, StoreError, ValidationFailed
from waypost.store import Store, open_store, open_store_when_available
from waypost.store.bulk import COPY_ROWS
from waypost.store.deliveries import EventBatch
from waypost.store.outage import DatabaseHealth, translate

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OUTAGE_LOGGER = "waypost.store.outage"


def outage_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == OUTAGE_LOGGER and record.getMessage().startswith(event)
    ]


def one_event(webhook_id: str | None = None, payload: str = "{}") -> NewEvent:
    deliveries = (
        (NewDelivery(id=str(uuid.uuid4()), webhook_id=webhook_id, payload=payload),)
        if webhook_id
        else ()
    )
    return NewEvent(
        id=str(uuid.uuid4()),
        type="task_created",
        tracking_id=None,
        data="{}",
        idempotency_key=None,
        deliveries=deliveries,
    )


def _sqlite_busy() -> sqlite3.OperationalError:
    """sqlite3's error for a database locked by another connection."""
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(111, "refused"), DatabaseUnavailable),
        (TimeoutError(), DatabaseUnavailable),
        (asyncpg.CannotConnectNowError("the database system is starting up"), DatabaseUnavailable),
        (asyncpg.AdminShutdownError("terminating connection"), DatabaseUnavailable),
        (asyncpg.TooManyConnectionsError("too many clients"), DatabaseUnavailable),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), DatabaseUnavailable),
        (asyncpg.InterfaceError("connection is closed"), DatabaseUnavailable),
        (sa_exc.TimeoutError("QueuePool limit reached"), DatabaseUnavailable),
        (sa_exc.OperationalError("BEGIN IMMEDIATE", None, _sqlite_busy()), DatabaseUnavailable),
        (asyncpg.CharacterNotInRepertoireError("invalid byte sequence"), ValidationFailed),
        (asyncpg.InvalidPasswordError("password authentication failed"), StoreError),
        (asyncpg.InvalidCatalogNameError('database "x" does not exist'), StoreError),
        (asyncpg.InterfaceError("another operation is in progress"), StoreError),
    ],
)
def test_driver_errors_are_translated_by_what_they_mean(
    error: Exception, expected: type[Exception]
) -> None:
    translated = translate(error, "write")
    assert type(translated) is expected
    assert "password" not in translated.reason


async def test_a_store_that_cannot_reach_postgresql_raises_database_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens on the port: every entry point raises ``DatabaseUnavailable``, never
    the driver's ``ConnectionRefusedError``, and the outage is logged once, not per try."""
    caplog.set_level(logging.INFO)
    settings = settings_for(f"postgresql://waypost@127.0.0.1:{free_port()}/waypost")
    store = await open_store(settings)
    try:
        tenant_id = str(uuid.uuid4())
        lease_until = NOW + timedelta(minutes=1)
        tries: list[Callable[[], Awaitable[object]]] = [
            store.migrate,
            lambda: store.principal_for_key(digest("wp_nothing")),
            lambda: store.insert_group(
                batches=[EventBatch(tenant_id=tenant_id, events=[one_event()], now=NOW)], lease=None
            ),
            lambda: Intake(store).ingest(tenant_id=tenant_id, events=[one_event()], now=NOW),
            lambda: store.claim_due(owner="me", limit=10, now=NOW, lease_until=lease_until),
            lambda: store.list_reports(tenant_id=tenant_id),
        ]
        for attempt in tries:
            with pytest.raises(DatabaseUnavailable) as raised:
                await attempt()
            assert raised.value.status == 503
            assert raised.value.retry_after is not None
            assert "ConnectionRefusedError" in raised.value.reason
    finally:
        await store.close()
    assert len(outage_lines(caplog, "database_unavailable")) == 1
    assert outage_lines(caplog, "database_available") == []


async def test_a_process_waits_for_the_database_and_a_signal_ends_the_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = settings_for(
        f"postgresql://waypost@127.0.0.1:{free_port()}/waypost", database_retry_max=0.05
    )
    stop = asyncio.Event()
    waiting = asyncio.create_task(open_store_when_available(settings, stop))
    await asyncio.sleep(0.5)
    assert not waiting.done(), "the wait must go on while the database is down"
    stop.set()
    assert await asyncio.wait_for(waiting, 10) is None
    assert len(outage_lines(caplog, "database_unavailable")) == 1


@pytest.fixture
async def pg_database(pg_template: PostgresTemplate) -> AsyncIterator[str]:
    pg_template.require()
    name = await pg_template.clone()
    try:
        yield name
    finally:
        await drop_database(name)


@pytest.fixture
async def cuttable(pg_database: str) -> AsyncIterator[tuple[Relay, str]]:
    """The test's PostgreSQL database behind a relay; its URL goes through the relay."""
    admin = make_url(PG_ADMIN_URL)
    async with relay(admin.host or "127.0.0.1", admin.port or 5432) as started:
        url = admin.set(host="127.0.0.1", port=started.port, database=pg_database)
        yield started, url.render_as_string(hide_password=False)


async def test_copy_errors_of_the_driver_are_translated_too(pg_database: str) -> None:
    """The hot path's COPY talks to asyncpg directly: its errors leave as waypost's."""
    admin = make_url(PG_ADMIN_URL).set(database=pg_database)
    store = await open_store(settings_for(admin.render_as_string(hide_password=False)))
    try:
        tenant = await make_tenant(store)
        webhook_id = await _subscription(store, tenant.tenant_id)
        events = [one_event(webhook_id, payload='{"a": "\x00"}') for _ in range(COPY_ROWS)]
        with pytest.raises(ValidationFailed, match="NUL"):
            await Intake(store).ingest(tenant_id=tenant.tenant_id, events=events, now=NOW)
    finally:
        await store.close()


async def _subscription(store: Store, tenant_id: str) -> str:
    from tests.integration.test_store import spec

    [subscription] = await store.create_subscriptions(
        tenant_id=tenant_id, authenticator="test", specs=[spec(tracking_id=None)], now=NOW
    )
    return subscription.id


async def test_api_answers_503_with_retry_after_while_postgresql_is_unreachable(
    cuttable: tuple[Relay, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Every way into the database (API keys, Bring's headers, the hot single-event route,
    ``/tokens``, ``/oauth/token``, the dashboard's session) answers 503 with Retry-After
    in the error shape, and the API works again by itself once the database is back."""
    caplog.set_level(logging.INFO)
    relayed, url = cuttable
    async with serve_app(settings_for(url), Roles(dispatcher=False)) as app:
        first = await app.tenant()
        second = await app.tenant("globex")
        signed_in = await app.client.post(
            "/tokens", json={"email": first.email, "password": first.password}
        )
        session = signed_in.json()["authentication_token"]
        await relayed.cut()

        answers = {
            "single event": await app.client.post(
                "/api/v1/events", json={"type": "task_created", "data": {}}, headers=first.headers
            ),
            "batch": await app.client.post(
                "/api/v1/events/batch",
                json={"events": [{"type": "task_created", "data": {}}]},
                headers=second.headers,
            ),
            "bring headers": await app.client.get(
                "/api/v1/webhooks",
                headers={"X-Mybring-API-Uid": first.email, "X-Mybring-API-Key": first.api_key},
            ),
            "tokens": await app.client.post(
                "/tokens", json={"email": first.email, "password": first.password}
            ),
            "oauth": await app.client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"},
            ),
            "dashboard": await app.client.get(
                "/webhooks", headers={"Cookie": f"waypost_session={session}"}
            ),
        }
        for what, response in answers.items():
            assert response.status_code == 503, (what, response.text)
            assert_error(response, 503, "database is unavailable")
            assert response.headers["retry-after"] == "2", what

        await relayed.restore()
        accepted = await _post_until_accepted(app, first.headers)
        assert accepted.status_code == 202, accepted.text
    assert len(outage_lines(caplog, "database_unavailable")) == 1
    assert len(outage_lines(caplog, "database_available")) == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("request_")]


async def _post_until_accepted(app: RunningApp, headers: dict[str, str]) -> httpx.Response:
    """Posts until one is accepted, as a client told to retry would (at most 50 tries)."""
    for _ in range(50):
        response = await app.client.post(
            "/api/v1/events", json={"type": "task_created", "data": {}}, headers=headers
        )
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.1)
    return response


async def test_serve_keeps_serving_while_another_process_locks_the_sqlite_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A write waits for the lock without stalling the process: health checks, reads and
    sends go on; after ``WAYPOST_SQLITE_LOCK_TIMEOUT`` the waiting requests, all of them,
    get 503 with Retry-After; once the lock is released, everything works again."""
    caplog.set_level(logging.INFO)
    path = tmp_path / "w.db"
    settings = settings_for(f"sqlite:///{path}", sqlite_lock_timeout=0.3)
    async with Receiver() as receiver, serve_app(settings) as app:
        tenant = await app.tenant()
        created = await app.client.post(
            "/api/v1/webhooks",
            json={"configuration": {"url": receiver.url("/hook")}, "event_types": ["task_created"]},
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        before = await app.client.post(
            "/api/v1/events",
            json={"type": "task_created", "data": {"n": 0}},
            headers=tenant.headers,
        )
        assert before.status_code == 202, before.text

        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            during = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        app.client.post(
                            "/api/v1/events",
                            json={"type": "task_created", "data": {"n": n}},
                            headers=tenant.headers,
                        )
                        for n in range(1, 11)
                    )
                ),
                30,
            )
            health = await app.client.get("/healthz")
            read = await app.client.get(
                f"/api/v1/events/{before.json()['id']}", headers=tenant.headers
            )
        finally:
            locker.execute("COMMIT")
            locker.close()
        for response in during:
            assert_error(response, 503, "database is unavailable")
            assert response.headers["retry-after"] == "2"
        assert health.status_code == 200
        assert read.status_code == 200, read.text

        after = await _post_until_accepted(app, tenant.headers)
        assert after.status_code == 202, after.text
        await receiver.wait_for(2, within=30)
    assert len(outage_lines(caplog, "database_unavailable")) == 1
    assert len(outage_lines(caplog, "database_available")) == 1


def test_an_outage_is_logged_once_and_stale_or_read_only_answers_do_not_end_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    now = [100.0]
    health = DatabaseHealth(clock=lambda: now[0])
    refused = ConnectionRefusedError(111, "refused")
    for _ in range(5):
        health.failed(now[0], refused, wrote=True)
        now[0] += 1
    # Reads go on while writes cannot (another process's SQLite lock): not the end of it.
    health.answered(now[0], wrote=False)
    assert health.down
    health.answered(now[0], wrote=True)
    assert not health.down
    # A try that began before the database came back says nothing about it now.
    health.failed(now[0] - 0.5, refused, wrote=True)
    assert not health.down
    assert outage_lines(caplog, "database_unavailable") == [
        "database_unavailable reason=ConnectionRefusedError"
    ]
    assert outage_lines(caplog, "database_available") == ["database_available down_for=5.0s"]
