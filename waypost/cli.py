"""The ``waypost`` command line. ``main`` is the only place that starts an event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
import typer
import uvicorn

from waypost.app import Roles, create_app
from waypost.config import Settings, load_settings
from waypost.crypto import new_secret_key
from waypost.delivery.dispatcher import Dispatcher
from waypost.delivery.outbound_auth import outbound
from waypost.domain.keys import issue_key
from waypost.domain.models import DeliveryStatus
from waypost.domain.passwords import hash_password
from waypost.errors import WaypostError
from waypost.heap import freeze_startup_objects
from waypost.http_server import http_protocol
from waypost.listen import listen as listen_forever
from waypost.observability.listener import metrics_listener
from waypost.observability.logs import TEXT_FORMAT, configure_logging, uvicorn_log_config
from waypost.observability.metrics import Metrics
from waypost.observability.tracing import Tracing
from waypost.reports.worker import ReportWorker
from waypost.store import Store, open_store, open_store_when_available
from waypost.store.history import DeliveryFilter
from waypost.store.interfaces import DeliveryHistory

T = TypeVar("T")

app = typer.Typer(help="waypost: webhook delivery for logistics platforms.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (merchants/customers of the platform).")
key_app = typer.Typer(help="API keys of a tenant.")
deliveries_app = typer.Typer(help="Delivery history of a tenant.")
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")
app.add_typer(deliveries_app, name="deliveries")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="WAYPOST_DATABASE_URL",
        help="sqlite:///path or postgresql://... [default: sqlite:///./waypost.db]",
    ),
]
Host = Annotated[str, typer.Option(envvar="WAYPOST_HOST", help="Address to listen on")]
Port = Annotated[int, typer.Option(envvar="WAYPOST_PORT", help="Port to listen on")]
TenantId = Annotated[str, typer.Option("--tenant", help="Tenant id")]
WebhookOption = Annotated[str | None, typer.Option("--webhook", help="Only this subscription")]
EventTypeOption = Annotated[
    list[str] | None, typer.Option("--event-type", help="Only these event types (repeatable)")
]
Since = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"], help="Created at or after (UTC)"),
]
Until = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"], help="Created before (UTC)"),
]


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop

        return uvloop.run(work)
    except ImportError:  # uvloop has no Windows build; asyncio's loop is slower but correct
        return asyncio.run(work)


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except WaypostError as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings)
    return settings


def _print(value: object) -> None:
    typer.echo(orjson.dumps(value, default=str).decode())


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[None]]) -> None:
    store = await open_store(settings, run_migrations=True)
    try:
        await work(store)
    finally:
        await store.close()


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, in the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _store_when_available(settings: Settings, stop: asyncio.Event) -> Store | None:
    """The migrated store once the database answers, waiting as long as it is unavailable;
    ``None`` if stopped meanwhile. Any other database failure ends the process."""
    try:
        return await open_store_when_available(settings, stop)
    except WaypostError as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(1) from exc


async def _migrated_when_available(settings: Settings) -> bool:
    """Whether the database was reached and migrated before a signal to stop came."""
    store = await _store_when_available(settings, _stop_on_signals())
    if store is None:
        return False
    await store.close()
    return True


def _serve(settings: Settings, roles: Roles) -> None:
    # Migrated here, before the server starts, because a signal can end this wait: the
    # server's lifespan, where the app would otherwise migrate, cannot be interrupted.
    if not _run(_migrated_when_available(settings)):
        return
    config = uvicorn.Config(
        create_app(settings, replace(roles, migrate=False)),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=uvicorn_log_config(settings),
        access_log=False,
        http=http_protocol(settings),
        # No route is a WebSocket: an upgrade would hand the connection to a protocol
        # without the slow-client deadlines.
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    _run(uvicorn.Server(config).serve())


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8080, database_url: DatabaseUrl = None) -> None:
    """The API, the dispatcher and the report worker in one process (SQLite by default)."""
    settings = _settings(host=host, port=port, database_url=database_url)
    _serve(settings, Roles(dispatcher=True))


@app.command()
def api(host: Host = "127.0.0.1", port: Port = 8080, database_url: DatabaseUrl = None) -> None:
    """Only the HTTP API; run `waypost worker` processes beside it (PostgreSQL)."""
    settings = _settings(host=host, port=port, database_url=database_url)
    _serve(settings, Roles(dispatcher=False))


@app.command()
def worker(database_url: DatabaseUrl = None) -> None:
    """Only the dispatcher: claims and sends deliveries; run any number against PostgreSQL."""
    settings = _settings(database_url=database_url)
    _run(_work(settings))


async def _work(settings: Settings) -> None:
    stop = _stop_on_signals()
    store = await _store_when_available(settings, stop)
    if store is None:
        return
    tracing = Tracing.from_environment(os.environ, "worker")
    try:
        wakeup = asyncio.Event()
        metrics = Metrics()
        metrics.watch_database(store.health)
        async with (
            outbound(settings) as (sender, authenticator),
            store.work_signals(wakeup),
            metrics_listener(settings, store, metrics),
        ):
            freeze_startup_objects()
            dispatcher = Dispatcher(
                store,
                sender,
                settings,
                authenticator=authenticator,
                wakeup=wakeup,
                metrics=metrics,
                tracing=tracing,
            )
            await asyncio.gather(
                dispatcher.run(stop), ReportWorker(store, sender, settings).run(stop)
            )
    finally:
        await store.close()
        tracing.shutdown()


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema (also done by serve, api and worker)."""
    settings = _settings(database_url=database_url)

    async def done(store: Store) -> None:
        typer.echo(f"database is up to date ({store.dialect})")

    _guarded(settings, done)


@app.command()
def listen(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 9000,
    status: Annotated[int, typer.Option(help="Status code to answer")] = 200,
) -> None:
    """A development receiver: prints every webhook it receives."""
    with contextlib.suppress(KeyboardInterrupt):
        _run(listen_forever(host, port, status))


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for WAYPOST_SECRET_KEY."""
    typer.echo(new_secret_key())


@tenant_app.command("create")
def tenant_create(
    name: str,
    email: Annotated[str, typer.Option(help="E-mail of the tenant's first admin user")],
    password: Annotated[str, typer.Option(help="Password of that user (at least 8 characters)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create a tenant, its first admin user and an API key; prints one line of JSON."""
    settings = _settings(database_url=database_url)
    key = issue_key()

    async def create(store: Store) -> None:
        tenant, user, api_key = await store.create_tenant(
            name=name,
            email=email,
            password_hash=hash_password(password),
            key_prefix=key.prefix,
            key_digest=key.digest,
            now=datetime.now(UTC),
        )
        _print(
            {
                "tenant_id": tenant.id,
                "name": tenant.name,
                "user_id": user.id,
                "email": user.email,
                "api_key": key.plaintext,
                "api_key_id": api_key.id,
            }
        )

    _guarded(settings, create)


def _guarded(settings: Settings, work: Callable[[Store], Awaitable[None]]) -> None:
    try:
        _run(_with_store(settings, work))
    except WaypostError as exc:
        typer.echo(f"error: {exc.reason}", err=True)
        raise typer.Exit(1) from exc


@key_app.command("create")
def key_create(
    tenant: TenantId,
    name: Annotated[str, typer.Option(help="A label for the key")] = "api",
    database_url: DatabaseUrl = None,
) -> None:
    """Make a new API key; the key itself is printed once and never stored."""
    settings = _settings(database_url=database_url)
    key = issue_key()

    async def create(store: Store) -> None:
        api_key = await store.create_api_key(
            tenant_id=tenant,
            name=name,
            prefix=key.prefix,
            key_digest=key.digest,
            now=datetime.now(UTC),
        )
        _print({"id": api_key.id, "name": name, "prefix": key.prefix, "api_key": key.plaintext})

    _guarded(settings, create)


@key_app.command("list")
def key_list(tenant: TenantId, database_url: DatabaseUrl = None) -> None:
    """List a tenant's keys (prefix only), one JSON object per line."""
    settings = _settings(database_url=database_url)

    async def show(store: Store) -> None:
        for api_key in await store.list_api_keys(tenant):
            _print(
                {
                    "id": api_key.id,
                    "name": api_key.name,
                    "prefix": api_key.prefix,
                    "created_at": api_key.created_at.isoformat(),
                    "revoked_at": api_key.revoked_at.isoformat() if api_key.revoked_at else None,
                }
            )

    _guarded(settings, show)


@key_app.command("revoke")
def key_revoke(
    tenant: TenantId,
    key_id: Annotated[str, typer.Argument(help="Id of the key to revoke")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: it stops working within 5 seconds on every api process."""
    settings = _settings(database_url=database_url)

    async def revoke(store: Store) -> None:
        api_key = await store.revoke_api_key(tenant_id=tenant, key_id=key_id, now=datetime.now(UTC))
        _print({"id": api_key.id, "revoked_at": str(api_key.revoked_at)})

    _guarded(settings, revoke)


def _utc(moment: datetime | None) -> datetime | None:
    """Command-line times without a zone are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@deliveries_app.command("list")
def deliveries_list(
    tenant: TenantId,
    status: Annotated[DeliveryStatus | None, typer.Option(help="Only this status")] = None,
    webhook: WebhookOption = None,
    event_type: EventTypeOption = None,
    tracking_id: Annotated[str | None, typer.Option(help="Only this tracking id")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, help="Stop after this many")] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """Deliveries, newest first, one JSON object per line."""
    settings = _settings(database_url=database_url)
    selection = DeliveryFilter(
        status=status,
        webhook_id=webhook,
        event_types=tuple(event_type or ()),
        tracking_id=tracking_id,
        since=_utc(since),
        until=_utc(until),
    )

    async def show(store: DeliveryHistory) -> None:
        cursor, remaining = None, limit
        while remaining > 0:
            page, cursor = await store.list_deliveries(
                tenant_id=tenant, selection=selection, cursor=cursor, limit=min(remaining, 1000)
            )
            for delivery in page:
                _print(delivery)
            remaining -= len(page)
            if cursor is None:
                break

    _guarded(settings, show)


@app.command()
def replay(
    tenant: TenantId,
    webhook: WebhookOption = None,
    event_type: EventTypeOption = None,
    since: Since = None,
    until: Until = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Send every failed delivery that matches again, with a progress bar."""
    settings = _settings(database_url=database_url)
    selection = DeliveryFilter(
        webhook_id=webhook,
        event_types=tuple(event_type or ()),
        since=_utc(since),
        until=_utc(until),
    )

    async def requeue(store: DeliveryHistory) -> None:
        now = datetime.now(UTC)
        total = await store.count_replayable(tenant_id=tenant, selection=selection, now=now)
        replayed = 0
        with typer.progressbar(length=total, label="re-queued", file=sys.stderr) as progress:
            while chunk := await store.replay_chunk(tenant_id=tenant, selection=selection, now=now):
                replayed += chunk
                progress.update(chunk)
        _print({"replayed": replayed})

    _guarded(settings, requeue)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    app()
