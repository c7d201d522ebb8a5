"""A real Prometheus server (Debian's ``prometheus`` package) on a loopback port, with a
config and a data directory of its own, scraping the targets a test names every second."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.process import free_port

PROMETHEUS = Path("/usr/bin/prometheus")
SCRAPE_SECONDS = 1


class Prometheus:
    def __init__(self, port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of ``promql`` now (an empty list if no series matches)."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of a query that aggregates to one series."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def by_label(self, promql: str, label: str) -> dict[str, float]:
        return {item["metric"][label]: float(item["value"][1]) for item in self.query(promql)}


def _config(targets: Mapping[str, list[str]]) -> str:
    lines = ["global:", f"  scrape_interval: {SCRAPE_SECONDS}s", "scrape_configs:"]
    for job, addresses in targets.items():
        lines += [f"  - job_name: {job}", "    static_configs:", "      - targets:"]
        lines += [f"          - {address}" for address in addresses]
    return "\n".join(lines) + "\n"


def _missing() -> None:
    message = f"{PROMETHEUS} is not installed (apt-get install prometheus; make test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message + " (set CI=true to make this a failure)")


@contextmanager
def prometheus(directory: Path, targets: Mapping[str, list[str]]) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` (job → ``host:port`` list); stopped when the block ends."""
    if not PROMETHEUS.exists():
        _missing()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(_config(targets))
    port = free_port()
    server = Prometheus(port, directory / "prometheus.log")
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{server.log_path.read_text()}")
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready:\n{server.log_path.read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(30)
