"""Delivery end to end: real ``waypost`` processes, real receivers on 127.0.0.1.

On SQLite one ``waypost serve`` does everything; on PostgreSQL one ``waypost
api`` takes events and two ``waypost worker`` processes deliver them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.deployment import create_tenant, deployment, subscribe, wait_terminal
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
