"""The dialects: one per database, found from its engines, differing where they should."""

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from waypost.store import schema as t
from waypost.store.dialect import Dialect, dialect_for, dialect_named
from waypost.store.engine import PostgresEngines, SqliteEngines
from waypost.store.postgres import PostgresDialect
from waypost.store.sqlite import SqliteDialect


def _dialects() -> list[tuple[Dialect, sa.Dialect]]:
    """Each database's dialect and SQLAlchemy's; engines connect on first use, so no I/O."""
    sqlite = sa.create_engine("sqlite://")
    postgres = create_async_engine("postgresql+asyncpg://127.0.0.1/unused")
    return [
        (dialect_for(SqliteEngines(sqlite, sqlite, lock_timeout=5)), sqlite.dialect),
        (dialect_for(PostgresEngines(postgres)), postgres.dialect),
    ]


def test_each_database_has_its_dialect() -> None:
    assert [type(dialect) for dialect, _ in _dialects()] == [SqliteDialect, PostgresDialect]
    assert [dialect.name == compiler.name for dialect, compiler in _dialects()] == [True, True]
    assert dialect_named("sqlite") is SqliteDialect
    assert dialect_named("postgresql") is PostgresDialect
    with pytest.raises(KeyError):
        dialect_named("mysql")


def test_only_postgresql_claims_skip_locked_rows() -> None:
    due = sa.select(t.deliveries.c.id).order_by(t.deliveries.c.next_attempt_at).limit(5)
    for dialect, compiler in _dialects():
        sql = str(dialect.claimable(due).compile(dialect=compiler))
        assert sql.endswith("FOR UPDATE SKIP LOCKED") == (dialect.name == "postgresql")
        assert sql.removesuffix(" FOR UPDATE SKIP LOCKED") == str(due.compile(dialect=compiler))
