"""Identifiers of stored things: events, deliveries, subscriptions, reports.

UUIDv7 rather than v4: the first 48 bits are the creation time in milliseconds, so
new rows append to the end of each primary-key index instead of landing on a random
page of it, which keeps inserts cheap as tables grow to millions of rows. uuid_utils
(Rust) makes one in 0.3 µs where the standard library's uuid4 takes 4 µs, and ingest
makes one per event and one per delivery.
"""

from __future__ import annotations

from uuid_utils import uuid7


def new_id() -> str:
    return str(uuid7())
