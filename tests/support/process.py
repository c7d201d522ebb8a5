"""Real ``waypost`` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.databases import TEST_SECRET_KEY

WAYPOST = [sys.executable, "-m", "waypost"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def waypost_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAYPOST_")}
    env.update(
        {
            "WAYPOST_DATABASE_URL": database_url,
            "WAYPOST_SECRET_KEY": TEST_SECRET_KEY,
            "WAYPOST_ALLOW_PRIVATE_TARGETS": "1",
            "WAYPOST_RETRY_DELAYS": "0.3,0.3,0.3",
            "WAYPOST_EVENTCAST_RETRY_DELAYS": "0.3,0.3,0.3",
            "WAYPOST_REQUEST_TIMEOUT": "2",
            "WAYPOST_ACK_TIMEOUT": "2",
            "WAYPOST_LEASE_SECONDS": "4",
            "WAYPOST_POLL_INTERVAL": "0.05",
        }
    )
    env.update({f"WAYPOST_{key.upper()}": value for key, value in settings.items()})
    return env


class WaypostProcess:
    """One waypost subprocess; its output goes to a log file the test can read."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [*WAYPOST, *args], env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait: the graceful path."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        self.process.kill()
        self.process.wait(10)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_healthy(base_url: str, process: WaypostProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"waypost exited early:\n{process.output()}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"waypost did not become healthy:\n{process.output()}")


@contextmanager
def waypost_serve(
    database_url: str, tmp_path: Path, *, command: str = "serve", **settings: str
) -> Iterator[tuple[str, WaypostProcess]]:
    port = free_port()
    env = waypost_env(database_url, **settings)
    process = WaypostProcess(
        [command, "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path / f"{command}-{port}.log",
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, process)
        yield base_url, process
    finally:
        if process.process.poll() is None:
            process.terminate()


def waypost_cli(database_url: str, *args: str) -> str:
    """Run a waypost command to completion and return its standard output."""
    done = subprocess.run(
        [*WAYPOST, *args],
        env=waypost_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout
