"""Bringg's "Delivery Created" acknowledgements.

The receiver answers HTTP 200 (201 is a failure even for a rejection; the retry
policy decides that before this module is asked) with JSON:
``{"success": true, "delivery_id": "..."}`` accepts, optionally with
``delivery_cost`` (integer cents), ``green_delivery`` (boolean) and
``fleet_extras`` (object); ``{"success": false, "error_message": "..."}`` rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

ACK_EVENT_TYPES = frozenset({"delivery_created"})
"""Event types whose receivers must always acknowledge (carrier integrations)."""
FOLLOW_UP_TYPES = frozenset({"delivery_updated", "delivery_cancelled"})
"""Later events about an acknowledged order: they carry the receiver's ``delivery_id``."""


def order_key(tracking_id: str | None, data: Any) -> str | None:
    """The order an event is about: its tracking id, else the ``id`` in its data."""
    if tracking_id is not None:
        return tracking_id
    found = data.get("id") if isinstance(data, dict) else None
    if isinstance(found, str | int) and not isinstance(found, bool):
        return str(found)
    return None


def needs_ack(event_type: str, required_by_subscription: bool) -> bool:
    return required_by_subscription or event_type in ACK_EVENT_TYPES


@dataclass(frozen=True, kw_only=True)
class Acknowledgement:
    delivery_id: str
    delivery_cost: int | None = None
    green_delivery: bool | None = None
    fleet_extras: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class AckResult:
    """Exactly one of ``accepted`` and ``rejection`` is set."""

    accepted: Acknowledgement | None = None
    rejection: str | None = None


def _rejected(reason: str) -> AckResult:
    return AckResult(rejection=reason)


def _typed(body: dict[str, Any], name: str, kind: type, label: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int in Python; a cost of `true` must not pass as 1 cent.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return f"acknowledgement field {name} must be {label}"
    return None


def parse_ack(body: bytes) -> AckResult:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _rejected("acknowledgement is not JSON")
    if not isinstance(parsed, dict):
        return _rejected("acknowledgement is not a JSON object")
    if parsed.get("success") is False:
        message = parsed.get("error_message")
        return _rejected(f"acknowledgement rejected: {message or 'no error_message given'}")
    if parsed.get("success") is not True:
        return _rejected("acknowledgement lacks success: true")
    delivery_id = parsed.get("delivery_id")
    if not isinstance(delivery_id, str) or not delivery_id:
        return _rejected("acknowledgement lacks delivery_id (a string)")
    for name, kind, label in (
        ("delivery_cost", int, "an integer (cents)"),
        ("green_delivery", bool, "a boolean"),
        ("fleet_extras", dict, "an object"),
    ):
        problem = _typed(parsed, name, kind, label)
        if problem:
            return _rejected(problem)
    return AckResult(
        accepted=Acknowledgement(
            delivery_id=delivery_id,
            delivery_cost=parsed.get("delivery_cost"),
            green_delivery=parsed.get("green_delivery"),
            fleet_extras=parsed.get("fleet_extras"),
        )
    )
