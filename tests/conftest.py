"""Fixtures shared by every tier."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.databases import PostgresTemplate, drop_database, pg_url, settings_for
from waypost.store import Store, open_store

if TYPE_CHECKING:
    from tests.support.server import RunningApp


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Strip WAYPOST_* variables so a developer's shell cannot leak into a test."""
    for name in list(os.environ):
        if name.startswith("WAYPOST_") and name != "WAYPOST_TEST_PG_URL":
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="session")
def pg_template() -> Iterator[PostgresTemplate]:
    template = PostgresTemplate()
    template.create()
    yield template
    template.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_template: PostgresTemplate
) -> AsyncIterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/waypost.db"
        return
    pg_template.require()
    name = await pg_template.clone()
    try:
        yield pg_url(name)
    finally:
        await drop_database(name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(settings_for(database_url), run_migrations=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def running_app(database_url: str) -> AsyncIterator[RunningApp]:
    from tests.support.server import serve_app

    async with serve_app(settings_for(database_url)) as app:
        yield app
