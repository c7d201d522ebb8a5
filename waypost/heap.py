"""Garbage collection in the long-running processes (serve, api, worker)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Exempt what is alive once a process has started (modules, the app, its routes,
    SQLAlchemy's metadata and caches) from every later collection.

    Those are hundreds of thousands of objects that live as long as the process, and
    each full collection walked them all, stalling the event loop for tens of
    milliseconds: at 500 events/s on SQLite, freezing them took the latency from event
    to receiver from p50 19 / p99 189 ms to p50 10 / p99 64 ms.
    """
    gc.collect()
    gc.freeze()
