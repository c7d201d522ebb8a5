"""A private PostgreSQL cluster a test may stop and start: the shared one at 127.0.0.1:5432
serves every other test and must never go down.

Made with Debian's own binaries in a fresh directory owned by ``postgres`` (the binaries
refuse to run as root, so as root they run through ``runuser``), listening only on
127.0.0.1 at a free port with trust authentication, and removed again afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.process import free_port

BINARIES = Path("/usr/lib/postgresql/15/bin")


class PrivateCluster:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.data = directory / "data"
        self.log = directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_postgres, *args], check=True, capture_output=True, text=True, timeout=timeout
        )

    def init(self) -> None:
        self._run(
            str(BINARIES / "initdb"),
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
            "-D",
            str(self.data),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.directory} -c fsync=off"
        )
        self._run(
            str(BINARIES / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(BINARIES / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", timeout=90
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


def _unavailable(reason: str) -> None:
    """Fail under CI=true, where the cluster must work; elsewhere, skip."""
    message = f"cannot run a private PostgreSQL cluster: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message + " (set CI=true to make this a failure)")


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A started cluster of its own; stopped and removed when the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="waypost-pg-"))
    cluster = PrivateCluster(directory, free_port())
    try:
        try:
            if os.geteuid() == 0:
                shutil.chown(directory, "postgres", "postgres")
            cluster.init()
            cluster.start()
        except (OSError, LookupError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            _unavailable(str(detail).strip())
        yield cluster
    finally:
        if cluster.running():
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
