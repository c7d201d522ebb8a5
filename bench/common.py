"""Shared helpers for the benchmarks: databases, waypost processes, figures."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

PG_ADMIN_URL = os.environ.get("WAYPOST_BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")
SECRET_KEY = "x1tpF5HJq7zSH4pAr3J3o0eSgpfj1sT0m3EdOqcwIHs="
OUT = Path(__file__).parent / "out"


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
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def waypost(
    command: str, database_url: str, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A waypost process (serve, api or worker); yields its base URL and process."""
    port = free_port()
    args = [sys.executable, "-m", "waypost", command]
    if command != "worker":
        args += ["--host", "127.0.0.1", "--port", str(port)]
    OUT.mkdir(exist_ok=True)
    log = (OUT / f"{command}-{port}.log").open("wb")
    process = subprocess.Popen(args, env=env(database_url, **settings), stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        if command != "worker":
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                time.sleep(0.1)
        yield base_url, process
    finally:
        process.terminate()
        process.wait(60)
        log.close()


def create_tenant(database_url: str) -> dict[str, str]:
    import json

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "waypost",
            "tenant",
            "create",
            "bench",
            "--email",
            f"bench-{uuid.uuid4().hex[:6]}@example.com",
            "--password",
            "benchmark-pass",
        ],
        env=env(database_url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, str] = json.loads(out)
    return result
