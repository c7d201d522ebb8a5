"""Driver errors as waypost's, and one log line per database outage.

Every driver error that leaves the store passes through ``translate``: a database that
cannot be reached or was lost (refused or cut connections, a restart, too many
connections, another process's SQLite lock) is ``DatabaseUnavailable``, which the API
answers with 503 and ``Retry-After`` and the background loops wait out; bad input
(SQLSTATE class 22) is ``ValidationFailed``; anything else is ``StoreError``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

import asyncpg
from sqlalchemy import exc as sa_exc

from waypost.errors import DatabaseUnavailable, StoreError, ValidationFailed, WaypostError

log = logging.getLogger(__name__)

DRIVER_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    # Refused, reset and timed-out connections: asyncpg raises them as they are, and
    # SQLAlchemy passes them on unwrapped when they happen while the pool connects.
    OSError,
)
"""What the drivers and SQLAlchemy raise; the store lets nothing else of theirs out."""

# SQLSTATE classes and codes of a lost or unreachable server: connection exceptions,
# insufficient resources (too many connections, disk full), and a server shutting down,
# crashed or still starting (admin_shutdown, crash_shutdown, cannot_connect_now,
# idle_session_timeout).
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_CODES = frozenset({"57P01", "57P02", "57P03", "57P05"})
# SQLite's primary result codes for a database locked by another connection.
_SQLITE_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def sqlite_locked(error: BaseException) -> bool:
    """Whether ``error`` (SQLAlchemy's or sqlite3's) says another connection holds the lock."""
    driver = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    code = getattr(driver, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _SQLITE_LOCKED


def _driver_error(error: BaseException) -> BaseException:
    """The driver's own exception behind SQLAlchemy's wrappers (asyncpg's behind the adapter's)."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        return error.orig.__cause__ or error.orig
    return error


def cause(error: BaseException) -> str:
    """The driver error's class name, and SQLite's name for its code (``SQLITE_BUSY``):
    enough to diagnose, never a value or a password."""
    driver = _driver_error(error)
    code = getattr(driver, "sqlite_errorname", None)
    return type(driver).__name__ + (f" {code}" if isinstance(code, str) else "")


def _sqlstate(error: BaseException) -> str:
    for candidate in (error, getattr(error, "orig", None), _driver_error(error)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return ""


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached now, rather than that it
    refused this statement."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # no pooled connection came free in time, or a pooled one was dead
    driver = _driver_error(error)
    if isinstance(driver, OSError):
        return True
    if isinstance(driver, asyncpg.InterfaceError) and "connection is closed" in str(driver):
        return True  # SQLAlchemy's own test for a lost asyncpg connection
    sqlstate = _sqlstate(error)
    if sqlstate.startswith(_UNAVAILABLE_CLASSES) or sqlstate in _UNAVAILABLE_CODES:
        return True
    return sqlite_locked(error)


def translate(error: BaseException, doing: str) -> WaypostError:
    """The waypost error for a driver error met while ``doing`` (``read``, ``write``, ...).

    PostgreSQL's data exceptions (SQLSTATE class 22) are bad input, not an outage: the one
    that gets past request validation is a NUL character, which PostgreSQL's text refuses.
    """
    if unavailable(error):
        return DatabaseUnavailable(
            f"the database is unavailable ({cause(error)}); try again in a few seconds"
        )
    sqlstate = _sqlstate(error)
    if sqlstate == "22021":
        return ValidationFailed("a text value contains a NUL character (\\u0000)")
    if sqlstate.startswith("22"):
        return ValidationFailed(f"a value is not accepted by the database: {cause(error)}")
    return StoreError(f"database {doing} failed: {cause(error)}")


class DatabaseHealth:
    """What one process has seen of its database, to log an outage once rather than once
    per try of every loop and request: ``database_unavailable`` when tries start failing,
    ``database_available`` with how long it was down when one succeeds again.

    Each report carries when its try started: a try that began before the last change
    (a slow query that failed just after the database came back, say) says nothing about
    the state now, and is ignored rather than logged as another outage. A read that
    succeeds ends an outage only if reads failed in it too: another process's SQLite
    lock stops writes while reads go on.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down_since: float | None = None
        self._reads_failed = False
        self._up_since = float("-inf")
        self.outages = 0
        """How many outages began, for the ``waypost_database_outages_total`` metric."""

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, started: float, error: BaseException, *, wrote: bool) -> None:
        """A try that began at ``started`` could not reach the database."""
        if self._down_since is None:
            if started < self._up_since:
                return
            self._down_since = self._clock()
            self.outages += 1
            log.error("database_unavailable reason=%s", cause(error))
        self._reads_failed = self._reads_failed or not wrote

    def answered(self, started: float, *, wrote: bool) -> None:
        """A try that began at ``started`` reached the database."""
        if self._down_since is None or started < self._down_since:
            return
        if wrote or self._reads_failed:
            now = self._clock()
            log.warning("database_available down_for=%.1fs", now - self._down_since)
            self._down_since = None
            self._reads_failed = False
            self._up_since = now
