"""Delivery end to end: real ``waypost`` processes, real receivers on 127.0.0.1.

On SQLite one ``waypost serve`` does everything; on PostgreSQL one ``waypost
api`` takes events and two ``waypost worker`` processes deliver them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.process import WaypostProcess, waypost_cli, waypost_env, waypost_serve
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow

TERMINAL = {"delivered", "failed", "cancelled"}


@contextmanager
def deployment(database_url: str, tmp_path: Path, **settings: str) -> Iterator[str]:
    """``serve`` on SQLite; ``api`` plus two ``worker`` processes on PostgreSQL."""
    if database_url.startswith("sqlite"):
        with waypost_serve(database_url, tmp_path, **settings) as (base_url, _process):
            yield base_url
        return
    with ExitStack() as stack:
        base_url, _api = stack.enter_context(
            waypost_serve(database_url, tmp_path, command="api", **settings)
        )
        env = waypost_env(database_url, **settings)
        for number in range(2):
            worker = WaypostProcess(["worker"], env, tmp_path / f"worker-{number}.log")
            stack.callback(worker.terminate)
        yield base_url


def create_tenant(database_url: str, name: str = "acme") -> dict[str, str]:
    out = waypost_cli(
        database_url,
        "tenant",
        "create",
        name,
        "--email",
        f"{name}@example.com",
        "--password",
        "a-long-password",
    )
    tenant: dict[str, str] = json.loads(out)
    return tenant


def subscribe(client: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    body = {"configuration": {"url": url}, "event_types": ["task_created"], **extra}
    response = client.post("/api/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_terminal(client: httpx.Client, event_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event: dict[str, Any] = client.get(f"/api/v1/events/{event_id}").json()
        if all(item["status"] in TERMINAL for item in event["deliveries"]):
            return event
        if time.monotonic() > deadline:
            raise TimeoutError(json.dumps(event, indent=1))
        time.sleep(0.1)


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
            deployment(database_url, tmp_path) as base_url,
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {tenant['api_key']}"}
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
            deployment(database_url, tmp_path) as base_url,
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {tenant['api_key']}"}
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
