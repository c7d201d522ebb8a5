"""Shared helpers for the benchmarks: databases, waypost processes, receivers, payloads,
figures."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from waypost.config import load_settings
from waypost.delivery.intake import Intake
from waypost.domain.keys import issue_key
from waypost.domain.models import NewEvent, SubscriptionSpec
from waypost.domain.signing import generate_secret
from waypost.domain.values import NewDelivery
from waypost.store import Store, open_store
from waypost.store.schema import deliveries as deliveries_table
from waypost.store.schema import webhook_topics as topics_table
from waypost.store.schema import webhooks as webhooks_table

PG_ADMIN_URL = os.environ.get("WAYPOST_BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")
SECRET_KEY = "x1tpF5HJq7zSH4pAr3J3o0eSgpfj1sT0m3EdOqcwIHs="
OUT = Path(__file__).parent / "out"
INGEST_BATCH = 1000
"""Events per ``POST /api/v1/events/batch``: the API's limit."""


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: ``fraction`` 0.99 gives p99."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, in seconds."""
    # The command name in field 2 may hold spaces; the numbers follow its ")".
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) since start or ``reset_peak_rss``, in MB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS), in MB."""
    return _status_mb(pid, "VmRSS")


def peaks_mb(processes: Sequence[subprocess.Popen[bytes]]) -> list[float]:
    """The peak resident set (VmHWM) of each process, in MB, rounded: read while they run."""
    return [round(peak_rss_mb(process.pid), 1) for process in processes]


def max_by_key(figures: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key, the largest value over several runs' ``{"serve": 130.2}``."""
    largest: dict[str, float] = {}
    for run in figures:
        for key, value in run.items():
            largest[key] = max(value, largest.get(key, value))
    return largest


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux's clear_refs), so a later
    ``peak_rss_mb`` shows the peak of what came after, not of start-up."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database, removed afterwards."""
    OUT.mkdir(exist_ok=True)
    if kind == "sqlite":
        path = OUT / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm", ".secret-key"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        return
    name = f"waypost_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def env(database_url: str, **settings: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("WAYPOST_")}
    values.update(
        {
            "WAYPOST_DATABASE_URL": database_url,
            "WAYPOST_SECRET_KEY": SECRET_KEY,
            "WAYPOST_ALLOW_PRIVATE_TARGETS": "1",
            "WAYPOST_RATE_LIMIT_PER_SECOND": "1000000",
            "WAYPOST_RATE_LIMIT_BURST": "1000000",
        }
    )
    values.update({f"WAYPOST_{key.upper()}": value for key, value in settings.items()})
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes], grace: float = 60) -> None:
    """SIGTERM, then SIGKILL if the process is still there after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _wait_for_log(path: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    """Workers serve no HTTP; they are ready once they log ``text``."""
    deadline = time.monotonic() + 60
    while text not in path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"waypost worker not ready; see {path}")
        time.sleep(0.1)


def _wait_for_health(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"waypost not ready (exit code {process.poll()}); see {log}")
        time.sleep(0.1)


@contextmanager
def waypost(
    command: str, database_url: str, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A waypost process (serve, api or worker), ready; yields its base URL and process."""
    port = free_port()
    args = [sys.executable, "-m", "waypost", command]
    if command != "worker":
        args += ["--host", "127.0.0.1", "--port", str(port)]
    OUT.mkdir(exist_ok=True)
    log_path = OUT / f"{command}-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(args, env=env(database_url, **settings), stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        if command == "worker":
            _wait_for_log(log_path, "dispatcher_started", process)
        else:
            _wait_for_health(base_url, process, log_path)
        yield base_url, process
    finally:
        stop(process)
        log.close()


@contextmanager
def deployment(
    kind: str, database_url: str, settings: dict[str, str] | None = None, workers: int = 2
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """What is measured: ``serve`` on SQLite; ``api`` plus ``workers`` workers on PostgreSQL.

    ``settings`` (``{"poll_interval": "0.05"}``) go to every process as ``WAYPOST_*``.
    Yields the API's base URL and every process, the API first. Each process's peak
    RSS is reset once all are ready, so that ``rss_by_role`` shows the peak of the
    scenario, not of start-up (imports and migrations peak at about 170 MB).
    """
    given = settings or {}
    if kind == "sqlite":
        with waypost("serve", database_url, **given) as (base_url, process):
            reset_peak_rss(process.pid)
            yield base_url, [process]
        return
    with ExitStack() as stack:
        base_url, api = stack.enter_context(waypost("api", database_url, **given))
        # Started after the api process, which has migrated the database by then.
        started = [
            stack.enter_context(waypost("worker", database_url, **given))[1] for _ in range(workers)
        ]
        for process in [api, *started]:
            reset_peak_rss(process.pid)
        yield base_url, [api, *started]


def setting(text: str) -> tuple[str, str]:
    """``--set NAME=VALUE``: a waypost setting (``dispatch_concurrency=512``) for a trial."""
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    return name.lower().removeprefix("waypost_"), value


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE`` (repeatable); ``dict(args.set)`` gives the settings."""
    parser.add_argument(
        "--set",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a waypost setting for every process, e.g. dispatch_concurrency=512 (repeatable)",
    )


DEPLOYMENTS = {
    "sqlite": "one `waypost serve`",
    "sqlite-full": "one `waypost serve`, `WAYPOST_SQLITE_SYNCHRONOUS=FULL`",
    "postgresql": "one `waypost api` + 2 `waypost worker`",
}
ROLES = {"sqlite": ["serve"], "postgresql": ["api", "worker", "worker"]}
"""The processes ``deployment`` yields, in order, for the RSS columns."""
SYSTEMS: dict[str, tuple[str, dict[str, str]]] = {
    "sqlite": ("sqlite", {}),
    "sqlite-full": ("sqlite", {"sqlite_synchronous": "FULL"}),
    "postgresql": ("postgresql", {}),
}
"""What ``--databases`` may name: the database kind and the settings that go with it.
SQLite runs WAL with ``synchronous=NORMAL`` by default (survives a process crash);
``sqlite-full`` is ``FULL`` (also survives a power loss)."""
NAMES = {
    "sqlite": "SQLite",
    "sqlite-full": "SQLite, synchronous=FULL",
    "postgresql": "PostgreSQL",
}


def rss_by_role(kind: str, processes: Sequence[subprocess.Popen[bytes]]) -> dict[str, float]:
    """Peak RSS (MB) of every process of a deployment since it was ready, keyed ``serve``,
    ``api``, ``worker1``, ``worker2``: read before the processes are stopped."""
    peaks = peaks_mb(processes)
    named: dict[str, float] = {}
    for number, (role, peak) in enumerate(zip(ROLES[kind], peaks, strict=True)):
        named[f"{role}{number}" if role == "worker" else role] = peak
    return named


@contextmanager
def receiver_process(*args: str) -> Iterator[str]:
    """``bench/receiver.py`` in its own process; yields its base URL."""
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log = (OUT / f"receiver-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.receiver", "--port", str(port), *args],
        stdout=log,
        stderr=log,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, grace=10)
        log.close()


@contextmanager
def otlp_collector() -> Iterator[str]:
    """``bench/otlp_sink.py`` in its own process, which accepts and discards OTLP/HTTP
    traces; yields the base URL to set as ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log = (OUT / f"otlp-sink-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.otlp_sink", "--port", str(port)], stdout=log, stderr=log
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, grace=10)
        log.close()


@contextmanager
def tracing_to(endpoint: str | None) -> Iterator[None]:
    """waypost processes started within export traces to ``endpoint`` (``None``: off),
    through the standard variable their environment (``env``) inherits."""
    before = os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    if endpoint is not None:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    try:
        yield
    finally:
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        if before is not None:
            os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = before


NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    # Keep connections open for the whole run, as the senders do.
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/body;
    server {{
        listen 127.0.0.1:{port};
        location /fail/ {{
            default_type application/json;
            return 503 '{{"error":"unavailable"}}';
        }}
        location / {{
            default_type application/json;
            return 200 '{{"ok":true}}';
        }}
    }}
}}
"""


@contextmanager
def fast_receiver() -> Iterator[tuple[str, str]]:
    """A receiver answering every POST with 200 and a small JSON body, as fast as possible
    (under ``/fail/``: 503).

    nginx (one worker, no access log) where installed, else the aiohttp receiver in
    its own process. Yields its base URL and a description for the results.
    """
    # Debian puts it in /usr/sbin, which a non-root PATH may lack.
    nginx = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if nginx is None:
        with receiver_process() as url:
            yield url, "aiohttp receiver, one process, no access log (nginx not installed)"
        return
    port = free_port()
    prefix = OUT / f"nginx-{port}"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix.resolve(), port=port))
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    name = version.removeprefix("nginx version: ")
    log = (prefix / "stderr.log").open("wb")
    # In the foreground, so that it is this process that is stopped at the end.
    process = subprocess.Popen(
        [nginx, "-p", str(prefix.resolve()), "-c", str(conf.resolve()), "-g", "daemon off;"],
        stdout=log,
        stderr=log,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", f"{name}, one worker process, no access log"
    finally:
        stop(process, grace=10)
        log.close()


def raw_loop(*args: str) -> dict[str, Any]:
    """Run ``bench/rawloop.py`` in its own process with ``args``; its JSON result."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.rawloop", *args],
        capture_output=True,
        check=True,
        timeout=900,
    ).stdout
    result: dict[str, Any] = orjson.loads(out)
    return result


def order_payload(number: int, size: int = 2048) -> dict[str, Any]:
    """An order (a Bringg ``task_created`` body) whose compact JSON is exactly ``size`` bytes."""
    order: dict[str, Any] = {
        "id": 7_000_000 + number,
        "external_id": f"ORD-{number:08d}",
        "title": f"Order {number} for Grünerløkka Kaffebar",
        "status": 0,
        "merchant_id": 4412,
        "team_ids": [17, 23],
        "created_at": "2026-11-23T08:15:00.000Z",
        "scheduled_at": "2026-11-23T14:00:00.000Z",
        "total_price": 1249.5,
        "delivery_price": 79.0,
        "customer": {
            "id": 910_000 + number,
            "name": "Kari Nordmann",
            "phone": "+4791234567",
            "email": "kari.nordmann@example.com",
        },
        "way_points": [
            {
                "position": position,
                "address": address,
                "city": "Oslo",
                "zipcode": zipcode,
                "lat": lat,
                "lng": lng,
                "no_earlier_than": "2026-11-23T13:00:00.000Z",
                "no_later_than": "2026-11-23T15:00:00.000Z",
            }
            for position, address, zipcode, lat, lng in (
                (1, "Thorvald Meyers gate 49", "0555", 59.9225, 10.7585),
                (2, "Markveien 58", "0550", 59.9231, 10.7573),
            )
        ],
        "task_inventories": [
            {"id": item, "name": f"Coffee beans, 1 kg, lot {item}", "quantity": 2, "price": 299.0}
            for item in range(3)
        ],
        "tags": ["b2b", "cold-chain", "priority"],
        "note": "",
    }
    padding = size - len(orjson.dumps(order))
    if padding < 0:
        raise ValueError(f"an order is at least {size - padding} bytes")
    order["note"] = ("Ring the bell at the back door; leave with the barista. " * 40)[:padding]
    return order


def batch_bodies(events: int) -> list[bytes]:
    """The bodies of ``POST /api/v1/events/batch`` for ``events`` 2 KB orders, 1,000
    per call: serialised before the clock starts."""
    return [
        orjson.dumps(
            {
                "events": [
                    {"type": "task_created", "data": order_payload(number)}
                    for number in range(start, min(events, start + INGEST_BATCH))
                ]
            }
        )
        for start in range(0, events, INGEST_BATCH)
    ]


async def post_batches(client: httpx.AsyncClient, bodies: Sequence[bytes]) -> None:
    """Post ``batch_bodies`` one after the other; anything but 202 stops the benchmark."""
    for body in bodies:
        response = await client.post(
            "/api/v1/events/batch", content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 202:
            raise RuntimeError(f"ingest: {response.status_code} {response.text[:300]}")


def create_tenant(database_url: str) -> dict[str, str]:
    """A tenant with an admin user and an API key, made as ``waypost tenant create`` makes
    them, in this process (the command would add seconds of start-up to every run); the
    database is migrated first. Its ids and API key."""

    async def create() -> dict[str, str]:
        settings = load_settings(database_url=database_url, secret_key=SECRET_KEY)
        store = await open_store(settings, run_migrations=True)
        key = issue_key()
        try:
            tenant, _user, api_key = await store.create_tenant(
                name="bench",
                email=f"bench-{uuid.uuid4().hex[:6]}@example.com",
                # Nobody signs in: a hash is never checked, and argon2 would only cost time.
                password_hash="not-a-password-hash",
                key_prefix=key.prefix,
                key_digest=key.digest,
                now=datetime.now(UTC),
            )
        finally:
            await store.close()
        return {"tenant_id": tenant.id, "api_key": key.plaintext, "api_key_id": api_key.id}

    return asyncio.run(create())


async def paced(
    rate: float, seconds: float, send: Callable[[], Awaitable[None]], max_in_flight: int = 256
) -> float:
    """Start ``send`` ``rate`` times a second for ``seconds``, without waiting for answers.

    An open loop, so a slow server does not slow the sender down, up to ``max_in_flight``
    sends at once (past that the sender waits, and the achieved rate shows it). No send
    starts after ``seconds``: a server that cannot keep up gets fewer, not a longer run.
    Returns the seconds the sending took; every send has finished on return.
    """
    slots = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        try:
            await send()
        finally:
            slots.release()

    started = time.perf_counter()
    for number in range(round(rate * seconds)):
        delay = started + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        if time.perf_counter() - started >= seconds:
            slots.release()
            break
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    elapsed = time.perf_counter() - started
    if tasks:
        await asyncio.gather(*tasks)
    return elapsed


Query = Callable[[str], Awaitable[list[tuple[Any, ...]]]]
"""A read-only SQL query on waypost's database: its rows."""


@asynccontextmanager
async def reader(database_url: str) -> AsyncIterator[Query]:
    """Read-only queries straight on waypost's database: cheaper than polling the API."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

        async def sqlite_query(sql: str) -> list[tuple[Any, ...]]:
            return await asyncio.to_thread(lambda: connection.execute(sql).fetchall())

        try:
            yield sqlite_query
        finally:
            connection.close()
        return
    pg = await asyncpg.connect(database_url)

    async def pg_query(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await pg.fetch(sql)]

    try:
        yield pg_query
    finally:
        await pg.close()


async def count(query: Query, sql: str) -> int:
    """The one number ``sql`` selects."""
    return int((await query(sql))[0][0])


def log(message: str) -> None:
    """Progress to stderr; stdout carries only the JSON lines."""
    print(message, file=sys.stderr, flush=True)


def small_payload(number: int, size: int = 512) -> str:
    """A compact JSON object of exactly ``size`` bytes (at least 64): for seeded rows."""
    head = orjson.dumps({"id": number, "external_id": f"ORD-{number:08d}", "note": ""})
    padding = size - len(head)
    if padding < 0:
        raise ValueError(f"a small payload is at least {len(head)} bytes")
    return orjson.dumps(
        {"id": number, "external_id": f"ORD-{number:08d}", "note": "x" * padding}
    ).decode()


@asynccontextmanager
async def opened_store(database_url: str) -> AsyncIterator[Store]:
    """waypost's own store on a benchmark database (migrated by ``create_tenant``), for seeding
    what the API would take too long to create."""
    store = await open_store(load_settings(database_url=database_url, secret_key=SECRET_KEY))
    try:
        yield store
    finally:
        await store.close()


def webhook_spec(
    url: str,
    *,
    event_types: tuple[str, ...] = ("task_created",),
    tracking_id: str | None = None,
    filters: tuple[dict[str, Any], ...] = (),
    fields: tuple[str, ...] | None = None,
) -> SubscriptionSpec:
    """A subscription as ``POST /api/v1/webhooks`` would make it."""
    return SubscriptionSpec(
        tracking_id=tracking_id,
        url=url,
        content_type="application/json",
        headers=(),
        event_groups=(),
        event_types=event_types,
        filters=filters,
        fields=fields,
        secret=generate_secret(),
        expires_at=datetime(2100, 1, 1, tzinfo=UTC),
    )


async def seed_subscriptions(
    store: Store, tenant: dict[str, str], specs: Sequence[SubscriptionSpec], concurrency: int = 1
) -> list[str]:
    """Create ``specs`` through the store; their ids in order.

    The store takes one url per call, so consecutive specs of one url go in one
    transaction (up to 1,000) and the others one call each, up to ``concurrency``
    calls at once (PostgreSQL gains from a few; SQLite serialises its writes).
    """
    calls: list[Sequence[SubscriptionSpec]] = []
    start = 0
    while start < len(specs):
        stop = start + 1
        while stop < len(specs) and stop - start < 1000 and specs[stop].url == specs[start].url:
            stop += 1
        calls.append(specs[start:stop])
        start = stop
    results: list[list[str]] = [[] for _ in calls]
    slots = asyncio.Semaphore(concurrency)

    async def create(index: int) -> None:
        async with slots:
            created = await store.create_subscriptions(
                tenant_id=tenant["tenant_id"],
                authenticator=tenant["api_key_id"],
                specs=calls[index],
                now=datetime.now(UTC),
            )
        results[index] = [subscription.id for subscription in created]

    await asyncio.gather(*(create(index) for index in range(len(calls))))
    return [webhook_id for ids in results for webhook_id in ids]


async def seed_pending(
    store: Store,
    tenant_id: str,
    webhook_ids: Sequence[str],
    events: int,
    payload_bytes: int = 512,
    per_transaction: int = 20_000,
) -> int:
    """``events`` ``task_created`` events, each with one pending delivery per webhook,
    stored as ingest stores them, about ``per_transaction`` deliveries a transaction.
    Returns the deliveries stored."""
    per_call = max(1, per_transaction // max(1, len(webhook_ids)))
    intake = Intake(store)
    stored = 0
    for first in range(0, events, per_call):
        batch = []
        for number in range(first, min(events, first + per_call)):
            body = small_payload(number, payload_bytes)
            batch.append(
                NewEvent(
                    id=str(uuid.uuid4()),
                    type="task_created",
                    tracking_id=None,
                    data=body,
                    idempotency_key=None,
                    deliveries=tuple(
                        NewDelivery(id=str(uuid.uuid4()), webhook_id=webhook_id, payload=body)
                        for webhook_id in webhook_ids
                    ),
                )
            )
        await intake.ingest(tenant_id=tenant_id, events=batch, now=datetime.now(UTC))
        stored += len(batch) * len(webhook_ids)
    return stored


def copy_pending(database_url: str) -> int:
    """Double the pending deliveries inside the database: one ``INSERT ... SELECT`` giving
    each pending delivery a copy with a fresh id (same event, subscription and payload).
    Far faster than ingesting rows one by one from Python, for a backlog of 1,000,000.
    Returns the rows added. The columns come from waypost's schema, so it follows it."""
    columns = [column.name for column in deliveries_table.columns if column.name != "id"]
    names = ", ".join(columns)
    if database_url.startswith("sqlite"):
        statement = (
            f"INSERT INTO deliveries (id, {names}) SELECT lower(hex(randomblob(16))), {names} "
            "FROM deliveries WHERE status = 'pending'"
        )
        connection = sqlite3.connect(database_url.split(":///", 1)[1])
        try:
            added = connection.execute(statement).rowcount
            connection.commit()
        finally:
            connection.close()
        return int(added)
    statement = (
        f"INSERT INTO deliveries (id, {names}) SELECT gen_random_uuid(), {names} "
        "FROM deliveries WHERE status = 'pending'"
    )

    async def copy() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            status: str = await connection.execute(statement)
            await connection.execute("ANALYZE deliveries")
        finally:
            await connection.close()
        return int(status.rsplit(" ", 1)[1])

    return asyncio.run(copy())


def copy_subscription(database_url: str, template_url: str, urls: Sequence[str]) -> int:
    """Copies of the subscription to ``template_url`` (made through the store), one per
    url in ``urls``, inserted in one transaction inside the database: the store's create
    takes one url per call, which makes 10,000 distinct urls cost a minute. Same
    settings, topics, secret and times; a fresh id each. Returns the copies made."""
    hooks = ", ".join(c.name for c in webhooks_table.columns if c.name not in ("id", "url"))
    topics = ", ".join(c.name for c in topics_table.columns if c.name != "webhook_id")
    # By id, not url: the url is not indexed, and each copy would read the whole table.
    insert_hook = f"INSERT INTO webhooks (id, url, {hooks}) SELECT {{0}}, {{1}}, {hooks} "
    insert_hook += "FROM webhooks WHERE id = {2}"
    insert_topics = f"INSERT INTO webhook_topics (webhook_id, {topics}) SELECT {{0}}, {topics} "
    insert_topics += "FROM webhook_topics WHERE webhook_id = {1}"
    template = "SELECT id FROM webhooks WHERE url = {0}"
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.split(":///", 1)[1])
        try:
            [(template_id,)] = connection.execute(template.format("?"), (template_url,))
            rows = [(uuid.uuid4().hex, url, template_id) for url in urls]
            connection.executemany(insert_hook.format("?", "?", "?"), rows)
            connection.executemany(
                insert_topics.format("?", "?"), [(new_id, template_id) for new_id, _, _ in rows]
            )
            connection.commit()
        finally:
            connection.close()
        return len(rows)

    async def copy() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            template_id = await connection.fetchval(template.format("$1"), template_url)
            rows = [(uuid.uuid4(), url, template_id) for url in urls]
            async with connection.transaction():
                await connection.executemany(insert_hook.format("$1", "$2", "$3"), rows)
                await connection.executemany(
                    insert_topics.format("$1", "$2"),
                    [(new_id, template_id) for new_id, _, _ in rows],
                )
            await connection.execute("ANALYZE webhooks, webhook_topics")
        finally:
            await connection.close()
        return len(rows)

    return asyncio.run(copy())
