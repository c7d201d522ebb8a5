"""Pauses between tries of something that keeps failing (the database, while it is down)."""

from __future__ import annotations

FIRST_PAUSE = 0.1
"""Seconds before the first retry: a connection cut by a restart is often back at once."""


class Backoff:
    """Pauses that double from ``first`` up to ``cap`` seconds, until ``reset``.

    A capped pause keeps a long outage from costing a try per millisecond, and bounds how
    long after the database is back a loop notices it.
    """

    def __init__(self, cap: float, first: float = FIRST_PAUSE) -> None:
        self._first = min(first, cap)
        self._cap = cap
        self._next = self._first

    def next(self) -> float:
        """The pause before the next try; each call doubles the one after it."""
        pause = self._next
        self._next = min(self._next * 2, self._cap)
        return pause

    def reset(self) -> None:
        """It worked: the next failure starts again from the shortest pause."""
        self._next = self._first
