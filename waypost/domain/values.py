"""Plain values that cross from the domain to the store and back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A subscription that may receive an event: what routing and shaping need."""

    id: str
    tracking_id: str | None
    topics: frozenset[str]
    fields: tuple[str, ...] | None
    filters_text: str | None
    """The stored filter JSON, a cheap key for caching the compiled filter."""


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    id: str
    webhook_id: str
    payload: str
