"""Real databases for tests: a SQLite file per test, or a PostgreSQL database cloned
from a migrated template (procrastinate's approach: migrate once, ``CREATE DATABASE
... TEMPLATE`` per test)."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest

from waypost.config import Settings, load_settings
from waypost.store.engine import create_engines
from waypost.store.migrate import migrate

PG_ADMIN_URL = os.environ.get("WAYPOST_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")
TEST_SECRET_KEY = "x1tpF5HJq7zSH4pAr3J3o0eSgpfj1sT0m3EdOqcwIHs="


def pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class PostgresTemplate:
    """A migrated template database, made once per test session."""

    def __init__(self) -> None:
        self.name = f"waypost_tpl_{os.getpid()}"
        self.error: Exception | None = None

    def create(self) -> None:
        async def build() -> None:
            await _admin(f"DROP DATABASE IF EXISTS {self.name}")
            await _admin(f"CREATE DATABASE {self.name}")
            engines = create_engines(pg_url(self.name))
            try:
                await migrate(engines)
            finally:
                await engines.dispose()

        try:
            asyncio.run(build())
        except (OSError, asyncpg.PostgresError) as exc:
            self.error = exc

    def drop(self) -> None:
        if self.error is None:
            asyncio.run(_admin(f"DROP DATABASE IF EXISTS {self.name}"))

    def require(self) -> None:
        """Fail under CI=true when PostgreSQL is unreachable; elsewhere, skip."""
        if self.error is None:
            return
        message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {self.error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message + " (set CI=true to make this a failure)")

    async def clone(self) -> str:
        name = f"waypost_t_{uuid.uuid4().hex[:12]}"
        await _admin(f"CREATE DATABASE {name} TEMPLATE {self.name}")
        return name


async def drop_database(name: str) -> None:
    await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def settings_for(database_url: str, **overrides: object) -> Settings:
    """Settings for a test: loopback targets allowed, short delays and timeouts."""
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "allow_private_targets": True,
        "retry_delays": "0.2,0.2,0.2",
        "eventcast_retry_delays": "0.2,0.2,0.2",
        "request_timeout": 2.0,
        "connect_timeout": 2.0,
        "ack_timeout": 2.0,
        "lease_seconds": 5.0,
        "poll_interval": 0.05,
    }
    values.update(overrides)
    return load_settings(**values)
