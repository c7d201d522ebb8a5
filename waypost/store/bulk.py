"""Writes of the hot path, many rows at once, straight to the driver.

Through SQLAlchemy Core, a statement run for many rows spends more on building each row's
parameters and running each column's bind processor (a UUID to hex text and an aware
datetime to naive text on SQLite) than the database spends storing the row: for one
event to 10,000 subscriptions, 0.9 s of 1.5 s. Here the statement is compiled once per
dialect, and each row goes to the driver as a tuple with its ids and times already in
the form the column types store, so the database is all that is left. The dialect's
``encoder`` must give exactly what those types give: the store's tests compare the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from waypost.store.dialect import Encoder, dialect_named
from waypost.store.engine import Connection
from waypost.store.postgres import COPY_ROWS

__all__ = ["COPY_ROWS", "Bulk"]

_Parameter = tuple[str | None, Encoder, Any]
"""A statement's parameter in its place: the row's key and its encoder, or, for a value
fixed in the statement (``attempt_count + 1``), ``None`` and the encoded value."""


class Bulk:
    """One INSERT or UPDATE run for many rows, each a dict of its bound parameters."""

    def __init__(
        self, statement: sa.Insert | sa.Update, copy_into: tuple[str, Sequence[str]] | None = None
    ) -> None:
        self._statement = statement
        self._copy_into = copy_into
        self._compiled: dict[str, tuple[str, tuple[_Parameter, ...]]] = {}

    @classmethod
    def insert(cls, table: sa.Table, columns: Sequence[str]) -> Bulk:
        statement = table.insert().values({name: sa.bindparam(name) for name in columns})
        return cls(statement, copy_into=(table.name, tuple(columns)))

    def _for(self, dialect: sa.Dialect) -> tuple[str, tuple[_Parameter, ...]]:
        if dialect.name not in self._compiled:
            compiled = self._statement.compile(dialect=dialect)
            encoder = dialect_named(dialect.name).encoder
            parameters: list[_Parameter] = []
            for name in compiled.positiontup or ():
                bind = compiled.binds[name]
                encode = encoder(bind.type)
                if bind.required:
                    parameters.append((name, encode, None))
                else:
                    fixed = None if bind.value is None else encode(bind.value)
                    parameters.append((None, encode, fixed))
            self._compiled[dialect.name] = str(compiled), tuple(parameters)
        return self._compiled[dialect.name]

    async def run(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        # The database's own bulk load (PostgreSQL's COPY), where it is the faster way.
        load = dialect_named(connection.dialect.name).bulk_load
        if self._copy_into is not None and await load(connection, self._copy_into, rows):
            return
        # An executemany; asyncpg pipelines the prepared statement.
        sql, parameters = self._for(connection.dialect)
        await connection.exec_driver_sql(
            sql,
            [
                tuple(
                    fixed
                    if name is None
                    else (None if (value := row[name]) is None else encode(value))
                    for name, encode, fixed in parameters
                )
                for row in rows
            ],
        )
