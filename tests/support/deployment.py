"""A waypost deployment as real processes: ``serve`` on SQLite, ``api`` + workers on PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.process import WaypostProcess, waypost_cli, waypost_env, waypost_serve

TERMINAL = {"delivered", "failed", "cancelled"}


@dataclass
class Deployment:
    base_url: str
    api: WaypostProcess
    """``serve`` on SQLite (it dispatches too), ``api`` on PostgreSQL."""
    workers: list[WaypostProcess] = field(default_factory=list)

    @property
    def dispatchers(self) -> list[WaypostProcess]:
        """The processes that send: the workers, or ``serve`` itself."""
        return self.workers or [self.api]


@contextmanager
def deployment(database_url: str, tmp_path: Path, **settings: str) -> Iterator[Deployment]:
    """``serve`` on SQLite; ``api`` plus two ``worker`` processes on PostgreSQL."""
    if database_url.startswith("sqlite"):
        with waypost_serve(database_url, tmp_path, **settings) as (base_url, process):
            yield Deployment(base_url=base_url, api=process)
        return
    with ExitStack() as stack:
        base_url, api = stack.enter_context(
            waypost_serve(database_url, tmp_path, command="api", **settings)
        )
        running = Deployment(base_url=base_url, api=api)
        # Workers send the report links, so they must know where the API is.
        env = waypost_env(database_url, **{"public_url": base_url, **settings})
        for number in range(2):
            worker = WaypostProcess(["worker"], env, tmp_path / f"worker-{number}.log")
            stack.callback(worker.terminate)
            running.workers.append(worker)
        # A loaded machine can take seconds to start Python: a test that signals a worker
        # must not reach it before it runs.
        wait_until(
            lambda: all("dispatcher_started" in worker.output() for worker in running.workers),
            60,
            "workers not started",
        )
        yield running


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


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s; ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
