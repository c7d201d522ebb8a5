"""Crashes, graceful stops, TLS, refused targets and the replay CLI, with real processes."""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.support.deployment import (
    Deployment,
    create_tenant,
    deployment,
    subscribe,
    wait_terminal,
    wait_until,
)
from tests.support.process import WaypostProcess, waypost_cli, waypost_env
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow

CRASH_DELIVERIES = 5_000


@contextmanager
def receiving(tls: trustme.CA | None = None) -> Iterator[ThreadedReceiver]:
    receiver = ThreadedReceiver(tls=tls)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@contextmanager
def api_client(running: Deployment, tenant: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=running.base_url,
        headers={"Authorization": f"Bearer {tenant['api_key']}"},
        timeout=60,
    ) as client:
        yield client


def count_by_status(client: httpx.Client) -> Counter[str]:
    """Every delivery of the tenant, counted by status (paging through the API)."""
    counts: Counter[str] = Counter()
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = client.get("/api/v1/deliveries", params=params).json()
        counts.update(item["status"] for item in page["items"])
        if page["next_cursor"] is None:
            return counts
        params["cursor"] = page["next_cursor"]


def test_sigkill_mid_flight_loses_nothing(database_url: str, tmp_path: Path) -> None:
    """SIGKILL a dispatching process with thousands of deliveries in flight, restart it,
    and every delivery still reaches the receiver; a bounded few arrive twice."""
    tenant = create_tenant(database_url)
    concurrency = 200
    with (
        receiving() as receiver,
        deployment(database_url, tmp_path, dispatch_concurrency=str(concurrency)) as running,
        api_client(running, tenant) as client,
    ):
        receiver.default = Reply(delay=0.3)  # slow enough that sends are in flight at the kill
        subscribe(client, receiver.url("/orders"))
        for start in range(0, CRASH_DELIVERIES, 1000):
            batch = [
                {"type": "task_created", "data": {"n": number}}
                for number in range(start, start + 1000)
            ]
            posted = client.post("/api/v1/events/batch", json={"events": batch})
            assert posted.status_code == 202, posted.text
        wait_until(lambda: len(receiver.requests) >= 500, 60, "no sends before the kill")
        victim = running.dispatchers[0]
        victim.kill()
        arrived_before_kill = len(receiver.requests)
        restarted = WaypostProcess(
            victim.args,
            waypost_env(database_url, dispatch_concurrency=str(concurrency)),
            tmp_path / "restarted.log",
        )
        try:
            if not running.workers:  # ``serve`` was the victim: the API comes back with it
                wait_until(lambda: _healthy(running.base_url), 30, "serve did not restart")
            wait_until(
                lambda: count_by_status(client)["delivered"] == CRASH_DELIVERIES,
                180,
                f"not all delivered: {count_by_status(client)}",
            )
        finally:
            restarted.terminate()
    numbers = Counter(json.loads(request.body)["n"] for request in receiver.requests)
    assert set(numbers) == set(range(CRASH_DELIVERIES)), "a delivery never arrived"
    twice = sum(1 for seen in numbers.values() if seen > 1)
    print(
        f"{database_url.split(':')[0]}: {arrived_before_kill} arrived before the kill, "
        f"{twice} of {CRASH_DELIVERIES} arrived twice"
    )
    # Only what the killed process had sent but not yet recorded can arrive twice: at most
    # its sends in flight plus the results waiting for the recorder's next batch.
    assert twice <= min(arrived_before_kill, 2 * concurrency)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_sigterm_finishes_in_flight_sends_then_exits(database_url: str, tmp_path: Path) -> None:
    tenant = create_tenant(database_url)
    with (
        receiving() as receiver,
        deployment(database_url, tmp_path) as running,
        api_client(running, tenant) as client,
    ):
        receiver.default = Reply(delay=1.0)
        subscribe(client, receiver.url("/slow"))
        events = [{"type": "task_created", "data": {"n": number}} for number in range(20)]
        client.post("/api/v1/events/batch", json={"events": events}).raise_for_status()
        wait_until(lambda: len(receiver.requests) >= 20, 30, "sends did not start")
        stopped_at = time.monotonic()
        for process in running.dispatchers:
            # uvicorn re-raises the SIGTERM once shut down, so ``serve`` reports the signal.
            assert process.terminate(timeout=20) in (0, -signal.SIGTERM)
            assert "dispatcher_stopped" in process.output()
        assert time.monotonic() - stopped_at < 10
        if running.workers:
            statuses = count_by_status(client)
        else:
            statuses = Counter(
                json.loads(line)["status"]
                for line in waypost_cli(
                    database_url, "deliveries", "list", "--tenant", tenant["tenant_id"]
                ).splitlines()
            )
    assert statuses == {"delivered": 20}, "in-flight sends must be recorded before exiting"
    assert len(receiver.requests) == 20


def test_untrusted_certificate_fails_and_the_ca_bundle_fixes_it(
    database_url: str, tmp_path: Path
) -> None:
    tenant = create_tenant(database_url)
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with receiving(tls=authority) as receiver:
        with (
            deployment(database_url, tmp_path) as running,
            api_client(running, tenant) as client,
        ):
            subscribe(client, receiver.url("/tls"))
            posted = client.post("/api/v1/events", json={"type": "task_created", "data": {}})
            [delivery] = wait_terminal(client, posted.json()["id"])["deliveries"]
            assert delivery["status"] == "failed"
            assert "certificate" in delivery["last_error"].lower()
            assert receiver.requests == []
            retry_id = delivery["id"]
        with (
            deployment(database_url, tmp_path, ca_bundle=str(bundle)) as running,
            api_client(running, tenant) as client,
        ):
            client.post(f"/api/v1/deliveries/{retry_id}/retry").raise_for_status()
            wait_until(
                lambda: (
                    client.get(f"/api/v1/deliveries/{retry_id}").json()["status"] == "delivered"
                ),
                30,
                "not delivered with the CA bundle",
            )
        assert len(receiver.requests) == 1


def test_private_targets_are_refused_without_the_setting(database_url: str, tmp_path: Path) -> None:
    tenant = create_tenant(database_url)
    with (
        receiving() as receiver,
        deployment(database_url, tmp_path, allow_private_targets="0") as running,
        api_client(running, tenant) as client,
    ):
        literal = client.post(
            "/api/v1/webhooks",
            json={"configuration": {"url": receiver.url("/x")}, "event_types": ["task_created"]},
        )
        assert literal.status_code == 400, literal.text
        assert "127.0.0.1 is a non-public address" in literal.json()["reason"]
        # A name is only known to be loopback once resolved: refused at connect time.
        name = socket.gethostname()
        assert ipaddress.ip_address(socket.gethostbyname(name)).is_loopback, "test needs it"
        subscribe(client, f"http://{name}:{receiver.port}/named")
        posted = client.post("/api/v1/events", json={"type": "task_created", "data": {}})
        [delivery] = wait_terminal(client, posted.json()["id"])["deliveries"]
    assert delivery["status"] == "failed"
    assert "refused" in delivery["last_error"].lower()
    assert receiver.requests == []


def test_cli_lists_failures_and_replays_them(database_url: str, tmp_path: Path) -> None:
    tenant = create_tenant(database_url)
    with (
        receiving() as receiver,
        deployment(database_url, tmp_path) as running,
        api_client(running, tenant) as client,
    ):
        receiver.script("/flaky", [Reply(404)] * 3)
        subscribe(client, receiver.url("/flaky"))
        events = [{"type": "task_created", "data": {"n": number}} for number in range(3)]
        ids = client.post("/api/v1/events/batch", json={"events": events}).json()["ids"]
        for event_id in ids:
            wait_terminal(client, event_id)
        tenant_option = ["--tenant", tenant["tenant_id"]]
        failed = waypost_cli(
            database_url, "deliveries", "list", *tenant_option, "--status", "failed"
        ).splitlines()
        assert len(failed) == 3
        assert {json.loads(line)["last_status_code"] for line in failed} == {404}
        replayed = waypost_cli(database_url, "replay", *tenant_option)
        assert json.loads(replayed) == {"replayed": 3}
        wait_until(lambda: count_by_status(client) == {"delivered": 3}, 30, "replay not sent")
    assert len(receiver.requests) == 6
