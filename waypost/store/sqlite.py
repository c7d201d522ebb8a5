"""SQLite specifics: one writer connection, claims in one atomic statement."""

from __future__ import annotations

from waypost.store.base import Store


class SqliteStore(Store):
    """SQLite serialises writers, so the duplicate check needs no extra lock."""
