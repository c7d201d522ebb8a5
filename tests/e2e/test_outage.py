"""The database goes away under load and comes back: no process exits, every accepted
event is delivered, clients are told 503 with Retry-After meanwhile, and each process
logs the outage a bounded number of times rather than once per try."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.e2e.test_durability import api_client, receiving
from tests.support.deployment import create_tenant, deployment, subscribe, wait_until
from tests.support.load import Load
from tests.support.pg_cluster import private_cluster
from tests.support.process import WaypostProcess, free_port, wait_healthy, waypost_env
from tests.support.receiver import ThreadedReceiver

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 30
RATE = 25
# Bounds of the load, whatever happens: it is stopped long before either.
MAX_EVENTS = 5_000
MAX_LOAD_SECONDS = 180
# A process logs ``database_unavailable`` once per outage; the bound leaves room for a
# blip while the database restarts, and is far below one line per try or request.
MOST_OUTAGE_LINES = 3
LOCK_SECONDS = 4
SETTINGS = {"database_retry_max": "1"}


def delivered_numbers(receiver: ThreadedReceiver) -> set[int]:
    return {json.loads(request.body)["n"] for request in list(receiver.requests)}


def assert_outage_logged_once(process: WaypostProcess) -> None:
    output = process.output()
    unavailable = output.count("database_unavailable")
    assert 1 <= unavailable <= MOST_OUTAGE_LINES, f"{process.args}: {unavailable}\n{output}"
    assert "database_available" in output, output
    assert "Traceback" not in output, output


def assert_only_202_and_503(load: Load) -> None:
    assert load.transport_errors == []
    assert set(load.statuses) <= {202, 503}, load.statuses
    assert load.unavailable, "the API must have answered 503 while the database was down"
    for response in load.unavailable:
        assert response.headers["retry-after"].isdigit()
        body = response.json()
        assert set(body) == {"uuid", "status", "reason"} and body["status"] == "503"


@pytest.mark.timeout(300)
def test_postgresql_down_for_30_seconds_under_load(tmp_path: Path) -> None:
    """``api`` and two ``worker``s at 25 events/s; the private cluster is stopped for 30 s
    and started again. A third worker and a second api started during the outage wait for
    the database and start once it is back."""
    with private_cluster() as cluster, ExitStack() as stack:
        tenant = create_tenant(cluster.url)
        receiver = stack.enter_context(receiving())
        running = stack.enter_context(deployment(cluster.url, tmp_path, **SETTINGS))
        client = stack.enter_context(api_client(running, tenant))
        subscribe(client, receiver.url("/outage"))
        load = Load(
            running.base_url,
            tenant["api_key"],
            rate=RATE,
            max_events=MAX_EVENTS,
            max_seconds=MAX_LOAD_SECONDS,
        )
        load.start()
        stack.callback(load.stop)
        wait_until(lambda: len(load.accepted) >= 2 * RATE, 60, "load did not start")

        cluster.stop("fast")
        down_at = time.monotonic()
        late = WaypostProcess(
            ["worker"],
            waypost_env(cluster.url, public_url=running.base_url, **SETTINGS),
            tmp_path / "late-worker.log",
        )
        stack.callback(late.terminate)
        late_api_port = free_port()
        late_api = WaypostProcess(
            ["api", "--host", "127.0.0.1", "--port", str(late_api_port)],
            waypost_env(cluster.url, **SETTINGS),
            tmp_path / "late-api.log",
        )
        stack.callback(late_api.terminate)
        everyone = [running.api, *running.workers, late, late_api]
        wait_until(lambda: load.unavailable, OUTAGE_SECONDS, "no 503 while down")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        assert [p.process.poll() for p in everyone] == [None] * 5, "a process exited"
        accepted_before = len(load.accepted)
        cluster.start()

        wait_until(
            lambda: len(load.accepted) >= accepted_before + 2 * RATE, 60, "ingest did not resume"
        )
        load.stop()
        wait_until(
            lambda: set(load.accepted) <= delivered_numbers(receiver),
            90,
            "accepted but not delivered",
        )
        wait_until(lambda: "dispatcher_started" in late.output(), 30, "late worker never started")
        wait_healthy(f"http://127.0.0.1:{late_api_port}", late_api)
        assert [p.process.poll() for p in everyone] == [None] * 5, "a process exited"
        for process in everyone:
            assert_outage_logged_once(process)
    assert_only_202_and_503(load)
    print(
        f"{len(load.accepted)} events accepted, all delivered; "
        f"{len(load.unavailable)} answers 503 while down; statuses {dict(load.statuses)}"
    )


@contextmanager
def sqlite_lock(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``BEGIN EXCLUSIVE`` on the file until a line on its stdin."""
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "c.execute('COMMIT')\n"
    )
    locker = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdin is not None
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield locker
    finally:
        locker.communicate("\n", timeout=30)


@pytest.mark.timeout(300)
def test_serve_keeps_going_while_another_process_locks_the_sqlite_file(tmp_path: Path) -> None:
    """Another process holds the SQLite file's write lock: ``serve`` keeps answering health
    checks and reads, tells writers 503 with Retry-After once ``WAYPOST_SQLITE_LOCK_TIMEOUT``
    passes, and every event posted before, during and after is delivered."""
    path = tmp_path / "waypost.db"
    url = f"sqlite:///{path}"
    tenant = create_tenant(url)
    settings = {**SETTINGS, "sqlite_lock_timeout": "1"}
    with ExitStack() as stack:
        receiver = stack.enter_context(receiving())
        running = stack.enter_context(deployment(url, tmp_path, **settings))
        client = stack.enter_context(api_client(running, tenant))
        subscribe(client, receiver.url("/locked"))
        load = Load(
            running.base_url,
            tenant["api_key"],
            rate=RATE,
            max_events=MAX_EVENTS,
            max_seconds=MAX_LOAD_SECONDS,
            retry_unavailable=True,
        )
        load.start()
        stack.callback(load.stop)
        wait_until(lambda: len(load.accepted) >= RATE, 60, "load did not start")
        with sqlite_lock(path):
            locked_at = time.monotonic()
            # Asked while the lock is held: answered only if waiting writers leave the
            # process free to serve.
            health = client.get("/healthz", timeout=10)
            listed = client.get("/api/v1/deliveries", params={"limit": 1}, timeout=10)
            wait_until(lambda: load.unavailable, 30, "no 503 while locked")
            time.sleep(max(0.0, LOCK_SECONDS - (time.monotonic() - locked_at)))
        assert health.status_code == 200
        assert listed.status_code == 200, listed.text

        accepted_before = len(load.accepted)
        wait_until(
            lambda: len(load.accepted) >= accepted_before + RATE and not load.retrying,
            60,
            "ingest did not resume",
        )
        load.stop()
        wait_until(
            lambda: set(load.accepted) <= delivered_numbers(receiver),
            60,
            "accepted but not delivered",
        )
        assert running.api.process.poll() is None, "serve exited"
        assert_outage_logged_once(running.api)
    assert_only_202_and_503(load)
    # Each event answered 503 was posted again until it was accepted: none is missing.
    assert set(load.accepted) == set(range(load.posted))
    print(
        f"{len(load.accepted)} events accepted, all delivered; "
        f"{len(load.unavailable)} answers 503 while locked"
    )


@pytest.mark.parametrize("command", ["worker", "api"])
def test_a_process_started_while_the_database_is_down_waits_until_a_signal(
    command: str, tmp_path: Path
) -> None:
    """Nothing listens where its PostgreSQL should be: the process logs that once and waits
    (rather than exiting), and SIGTERM ends the wait cleanly."""
    url = f"postgresql://waypost@127.0.0.1:{free_port()}/waypost"
    args = [command] if command == "worker" else [command, "--port", str(free_port())]
    waiting = WaypostProcess(args, waypost_env(url, **SETTINGS), tmp_path / f"{command}.log")
    try:
        wait_until(lambda: "database_unavailable" in waiting.output(), 30, "no outage logged")
        # Tries go on meanwhile, a second apart at most; none is logged again.
        time.sleep(3)
        assert waiting.process.poll() is None, waiting.output()
    finally:
        code = waiting.terminate()
    assert code == 0, waiting.output()
    assert waiting.output().count("database_unavailable") == 1
    assert "Traceback" not in waiting.output()
