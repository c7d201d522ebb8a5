"""Delivery end to end: real ``waypost`` processes, real receivers on 127.0.0.1.

On SQLite one ``waypost serve`` does everything; on PostgreSQL one ``waypost
api`` takes events and two ``waypost worker`` processes deliver them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.deployment import (
    create_tenant,
    deployment,
    subscribe,
    wait_terminal,
    wait_until,
)
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow

SCRIPTS: dict[str, tuple[list[Reply], dict[str, Any], str, int]] = {
    # path: (replies, subscription extras, final status, attempts)
    "/ok": ([Reply(200)], {}, "delivered", 1),
    "/s500": ([Reply(500)] * 4, {}, "failed", 4),
    "/s502": ([Reply(502)] * 4, {}, "failed", 4),
    "/s503": ([Reply(503)] * 4, {}, "failed", 4),
    "/s504": ([Reply(504)] * 4, {}, "failed", 4),
    "/flaky": ([Reply(503), Reply(200)], {}, "delivered", 2),
    "/missing": ([Reply(404)], {}, "failed", 1),
    "/created": ([Reply(201)], {}, "failed", 1),
    "/created-2xx": ([Reply(201)], {"success_codes": "2xx"}, "delivered", 1),
    "/redirect": ([Reply(302, headers={"Location": "/ok"})], {}, "failed", 1),
    "/slow": ([Reply(200, delay=3.0), Reply(200)], {}, "delivered", 2),
    "/busy": ([Reply(429, headers={"Retry-After": "1"}), Reply(200)], {}, "delivered", 2),
}


def test_bringg_delivery_rules(database_url: str, tmp_path: Path) -> None:
    tenant = create_tenant(database_url)
    receiver = ThreadedReceiver()
    receiver.start()
    try:
        for path, (replies, _extra, _status, _count) in SCRIPTS.items():
            receiver.script(path, replies)
        with (
            deployment(database_url, tmp_path) as running,
            httpx.Client(
                base_url=running.base_url, headers={"Authorization": f"Bearer {tenant['api_key']}"}
            ) as client,
        ):
            subscriptions = {
                path: subscribe(client, receiver.url(path), **extra)
                for path, (_replies, extra, _status, _count) in SCRIPTS.items()
            }
            posted = client.post(
                "/api/v1/events", json={"type": "task_created", "data": {"id": 7, "title": "x"}}
            )
            assert posted.status_code == 202, posted.text
            event = wait_terminal(client, posted.json()["id"])
            by_webhook = {item["webhook_id"]: item for item in event["deliveries"]}
            assert len(by_webhook) == len(SCRIPTS)
            for path, (_replies, _extra, status, count) in SCRIPTS.items():
                delivery = by_webhook[subscriptions[path]["id"]]
                assert (delivery["status"], delivery["attempt_count"]) == (status, count), path
                detail = client.get(f"/api/v1/deliveries/{delivery['id']}").json()
                assert len(detail["attempts"]) == count, path
            ok_requests = receiver.requests_for("/ok")
            assert len(ok_requests) == 1, "the redirect must not have been followed"
            busy = receiver.requests_for("/busy")
            assert busy[1].arrived - busy[0].arrived >= 0.95
            slow_detail = client.get(
                f"/api/v1/deliveries/{by_webhook[subscriptions['/slow']['id']]['id']}"
            ).json()
            assert "timeout" in (slow_detail["attempts"][0]["error"] or "").lower()
    finally:
        receiver.stop()


def test_signatures_verify_with_standardwebhooks(database_url: str, tmp_path: Path) -> None:
    tenant = create_tenant(database_url)
    receiver = ThreadedReceiver()
    receiver.start()
    try:
        with (
            deployment(database_url, tmp_path) as running,
            httpx.Client(
                base_url=running.base_url, headers={"Authorization": f"Bearer {tenant['api_key']}"}
            ) as client,
        ):
            created = subscribe(
                client,
                receiver.url("/signed"),
                configuration={
                    "url": receiver.url("/signed"),
                    "headers": [{"key": "Authorization", "value": "Bearer merchant-key"}],
                },
            )
            posted = client.post(
                "/api/v1/events", json={"type": "task_created", "data": {"id": 1}}
            ).json()
            wait_terminal(client, posted["id"])
            detail = client.get("/api/v1/deliveries", params={"webhook_id": created["id"]})
            logs = [process.output() for process in (running.api, *running.workers)]
        assert "merchant-key" not in detail.text
        assert all("merchant-key" not in log and created["secret"] not in log for log in logs)
        [request] = receiver.requests_for("/signed")
        headers = dict(request.headers)
        Webhook(created["secret"]).verify(request.body, headers)
        assert json.loads(request.body) == {"id": 1}
        lowered = {key.lower(): value for key, value in request.headers}
        assert lowered["authorization"] == "Bearer merchant-key"
        assert lowered["content-type"] == "application/json"
        assert lowered["user-agent"].startswith("waypost/")
        with pytest.raises(Exception, match=r"(?i)signature"):
            Webhook(created["secret"]).verify(request.body + b" ", headers)
    finally:
        receiver.stop()


def _terminate_listeners(database_url: str) -> int:
    """Cut every LISTEN connection to the test database, as a failover or restart would."""

    async def terminate() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            return len(
                await connection.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )
        finally:
            await connection.close()

    return asyncio.run(terminate())


def test_new_events_wake_the_dispatchers_without_polling(database_url: str, tmp_path: Path) -> None:
    """With a poll interval of a minute, an event is still sent at once: ``serve`` wakes its
    own dispatcher; on PostgreSQL the api's NOTIFY wakes the workers, also after their
    LISTEN connections were cut."""
    tenant = create_tenant(database_url)
    receiver = ThreadedReceiver()
    receiver.start()
    try:
        with (
            deployment(database_url, tmp_path, poll_interval="60") as running,
            httpx.Client(
                base_url=running.base_url, headers={"Authorization": f"Bearer {tenant['api_key']}"}
            ) as client,
        ):
            subscribe(client, receiver.url("/hook"))
            rounds = 2 if running.workers else 1
            for number in range(rounds):
                if number == 1:
                    assert _terminate_listeners(database_url) == len(running.workers)
                    wait_until(
                        lambda: all(
                            worker.output().count("listen_lost") == 1 for worker in running.workers
                        ),
                        20,
                        "workers did not notice the lost connection",
                    )
                posted = client.post(
                    "/api/v1/events", json={"type": "task_created", "data": {"n": number}}
                )
                assert posted.status_code == 202, posted.text
                wait_until(
                    lambda expected=number + 1: len(receiver.requests) == expected,
                    20,  # a third of the poll interval: only a wake-up explains a delivery
                    f"event {number} not delivered before the next poll",
                )
    finally:
        receiver.stop()
