"""Prometheus scrapes real waypost processes; PromQL over its HTTP API reads what the
database says: attempts by outcome, the queue's size, and how long its oldest due
delivery has waited. ``/readyz`` follows the database through an outage."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.test_durability import receiving
from tests.support.deployment import create_tenant, subscribe, wait_until
from tests.support.pg_cluster import private_cluster
from tests.support.process import WaypostProcess, free_port, waypost_env, waypost_serve
from tests.support.prometheus import SCRAPE_SECONDS, Prometheus, prometheus
from tests.support.receiver import Reply, ThreadedReceiver
from waypost.observability.metrics import QUEUE_REFRESH_SECONDS

pytestmark = pytest.mark.slow

EVENTS = 6
LATE_EVENTS = 4
# Three subscriptions per event: one receiver answers 200 (delivered), one 400 (failed at
# once), one 503 with a retry an hour later (pending, not due).
SUBSCRIPTIONS = 3


@dataclass(frozen=True)
class Truth:
    """What the database says."""

    delivered: int
    failed: int
    attempts: int
    pending: int
    due: int
    oldest_due_at: datetime | None

    @property
    def outcomes(self) -> dict[str, float]:
        retries = self.attempts - self.delivered - self.failed
        return {"delivered": self.delivered, "failed": self.failed, "retry": retries}


_PG_TRUTH = """
SELECT
  (SELECT count(*) FROM deliveries WHERE status = 'delivered'),
  (SELECT count(*) FROM deliveries WHERE status = 'failed'),
  (SELECT count(*) FROM attempts),
  (SELECT count(*) FROM deliveries WHERE status = 'pending'),
  (SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()),
  (SELECT min(next_attempt_at) FROM deliveries
     WHERE status = 'pending' AND next_attempt_at <= now())
"""
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_SQLITE_TRUTH = _PG_TRUTH.replace("now()", _SQLITE_NOW)


def truth(database_url: str) -> Truth:
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split(":///", 1)[1]) as connection:
            row = connection.execute(_SQLITE_TRUTH).fetchone()
        oldest = None if row[5] is None else datetime.fromisoformat(row[5]).replace(tzinfo=UTC)
        return Truth(row[0], row[1], row[2], row[3], row[4], oldest)

    async def read() -> Truth:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            row = await connection.fetchrow(_PG_TRUTH)
        finally:
            await connection.close()
        return Truth(*row)

    return asyncio.run(read())


def scraped_outcomes(server: Prometheus) -> dict[str, float]:
    return server.by_label("sum by (outcome) (waypost_attempts_total)", "outcome")


def subscribe_three(client: httpx.Client, receiver: ThreadedReceiver) -> None:
    receiver.script("/bad", [Reply(status=400)] * (EVENTS + LATE_EVENTS))
    receiver.script("/retry", [Reply(status=503)] * (EVENTS + LATE_EVENTS))
    subscribe(client, receiver.url("/ok"))
    subscribe(client, receiver.url("/bad"))
    subscribe(client, receiver.url("/retry"), retry_delays=[3600])


def post_events(client: httpx.Client, count: int) -> None:
    events = [{"type": "task_created", "data": {"id": n}} for n in range(count)]
    response = client.post("/api/v1/events/batch", json={"events": events})
    assert response.status_code == 202, response.text


def settled(database_url: str, events: int) -> bool:
    """Every delivery of ``events`` has had its first attempt recorded."""
    now = truth(database_url)
    return now.attempts >= events * SUBSCRIPTIONS and now.delivered == events


def assert_queue_scraped(server: Prometheus, database_url: str) -> None:
    """The queue gauges (``max``: every role reports the one database) equal the database's
    figures, once a scrape after the last change has come in."""
    expected = truth(database_url)

    def scraped() -> bool:
        return server.value("max(waypost_queue_pending)") == expected.pending and (
            server.value("max(waypost_queue_due)") == expected.due
        )

    wait_until(scraped, 60, f"queue gauges never read {expected}")
    age = server.value("max(waypost_queue_oldest_due_seconds)")
    assert age is not None
    if expected.oldest_due_at is None:
        assert age == 0
        return
    waited = (datetime.now(UTC) - expected.oldest_due_at).total_seconds()
    # The gauge is as old as its scrape and the cached database read behind it.
    staleness = SCRAPE_SECONDS + QUEUE_REFRESH_SECONDS + 2
    assert waited - staleness <= age <= waited + 1, (age, waited)


@contextmanager
def api_client(base_url: str, tenant: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {tenant['api_key']}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        yield client


def test_prometheus_reads_what_the_database_says(database_url: str, tmp_path: Path) -> None:
    """``serve`` on SQLite, or ``api`` and a ``worker`` on PostgreSQL, scraped by Prometheus:
    after deliveries that succeed, fail and wait for a retry, the attempt counters and the
    queue gauges read the database's figures; on PostgreSQL, with the worker stopped, new
    events make the queue's due count and its oldest age grow as the database says."""
    tenant = create_tenant(database_url)
    on_sqlite = database_url.startswith("sqlite")
    with ExitStack() as stack:
        receiver = stack.enter_context(receiving())
        command = "serve" if on_sqlite else "api"
        base_url, _ = stack.enter_context(waypost_serve(database_url, tmp_path, command=command))
        targets = {"api": [base_url.removeprefix("http://")]}
        worker = None
        if not on_sqlite:
            metrics_port = free_port()
            env = waypost_env(database_url, public_url=base_url, metrics_port=str(metrics_port))
            worker = WaypostProcess(["worker"], env, tmp_path / "worker.log")
            stack.callback(worker.terminate)
            targets["worker"] = [f"127.0.0.1:{metrics_port}"]
            health = f"http://127.0.0.1:{metrics_port}/healthz"
            wait_until(lambda: _answers(health), 60, "worker's metrics listener never answered")
        server = stack.enter_context(prometheus(tmp_path / "prometheus", targets))
        client = stack.enter_context(api_client(base_url, tenant))
        subscribe_three(client, receiver)

        post_events(client, EVENTS)
        wait_until(lambda: settled(database_url, EVENTS), 60, "deliveries not attempted")
        expected = truth(database_url).outcomes
        assert expected == {"delivered": EVENTS, "failed": EVENTS, "retry": EVENTS}
        wait_until(lambda: scraped_outcomes(server) == expected, 60, "attempts never scraped")
        wait_until(
            lambda: (
                server.value("sum(waypost_deliveries_created_total)") == EVENTS * SUBSCRIPTIONS
                and server.value("sum(waypost_events_ingested_total)") == EVENTS
            ),
            60,
            "ingest counters never scraped",
        )
        assert_queue_scraped(server, database_url)

        if worker is not None:
            assert worker.terminate() == 0
            post_events(client, LATE_EVENTS)
            assert truth(database_url).due == LATE_EVENTS * SUBSCRIPTIONS
            assert_queue_scraped(server, database_url)
        for expression in dashboard_queries():
            server.query(expression)  # Prometheus answers 400 to a malformed one
        routes = server.by_label("sum by (route) (waypost_http_requests_total)", "route")
        assert "/api/v1/events/batch" in routes and "/api/v1/webhooks" in routes
        assert not any(tenant["tenant_id"] in route for route in routes)


def dashboard_queries() -> list[str]:
    """Every query of the Grafana dashboard in ``docs/``."""
    dashboard = json.loads((Path(__file__).parents[2] / "docs/grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _readiness(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=10).status_code
    except httpx.HTTPError:
        return None


@pytest.mark.timeout(300)
def test_readyz_follows_postgresql_down_and_back(tmp_path: Path) -> None:
    """The private cluster is stopped: ``/readyz`` of ``api`` and of a ``worker`` answer
    503 while ``/healthz`` stays 200; it is started again: both are ready again, with no
    waypost process restarted."""
    with private_cluster() as cluster, ExitStack() as stack:
        base_url, api = stack.enter_context(
            waypost_serve(cluster.url, tmp_path, command="api", database_retry_max="1")
        )
        metrics_port = free_port()
        env = waypost_env(cluster.url, metrics_port=str(metrics_port), database_retry_max="1")
        worker = WaypostProcess(["worker"], env, tmp_path / "worker.log")
        stack.callback(worker.terminate)
        worker_url = f"http://127.0.0.1:{metrics_port}"
        wait_until(lambda: _answers(worker_url + "/healthz"), 60, "worker never listened")
        ready = [base_url + "/readyz", worker_url + "/readyz"]
        assert [_readiness(url) for url in ready] == [200, 200]

        cluster.stop("fast")
        wait_until(lambda: all(_readiness(u) == 503 for u in ready), 60, "never unready")
        unready = httpx.get(base_url + "/readyz", timeout=10)
        assert set(unready.json()) == {"uuid", "status", "reason"}
        assert unready.headers["retry-after"].isdigit()
        assert [_answers(base_url + "/healthz"), _answers(worker_url + "/healthz")] == [True] * 2

        cluster.start()
        wait_until(lambda: all(_readiness(u) == 200 for u in ready), 60, "never ready again")
        assert api.process.poll() is None and worker.process.poll() is None
