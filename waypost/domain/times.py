"""Instants from requests: with a zone, and within what both databases store.

Python's ``datetime`` holds years 1 to 9999, and so does the SQLite store, which
keeps naive UTC text and reads it back with ``fromisoformat``; PostgreSQL's
``timestamptz`` reaches much further (4713 BC to AD 294276), and asyncpg sends the
two ends of Python's range as ``-infinity`` and ``infinity``, which compare the same
way. So an instant is usable when, converted to UTC, it is still a ``datetime``:
``0001-01-01T00:00:00+23:59`` is not (it is in year 0 in UTC), nor is
``9999-12-31T23:59:59-23:59`` (year 10000). Converting it here, once, means no later
step (the store's own conversion to UTC, a driver's encoding) can overflow.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; ``ValueError`` if it has no zone or falls outside
    ``EARLIEST``..``LATEST`` in UTC."""
    if moment.utcoffset() is None:
        raise ValueError("give a time zone, e.g. 2026-01-31T12:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(
            "must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once in UTC"
        ) from exc
