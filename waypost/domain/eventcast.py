"""Bring Event Cast's formats: its time format, the callback body and its headers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
"""Bring's ``yyyy-MM-dd'T'HH:mm:ssZ``: UTC, no fractions, offset written ``+0000``."""

TERMINAL_GROUP = "DELIVERED"
"""A delivered event of this group ends the tracking-id subscriptions it reached."""

APPLICATION = "waypost"
VERSION = "1"


def format_time(moment: datetime) -> str:
    """``2019-04-13T05:41:49+0000``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def format_utc_text(text: str) -> str:
    """UTC text that begins ``2019-04-13 05:41:49`` (as the store lists times) in Bring's
    format: a slice, not a parse, for listings of 150,000."""
    return f"{text[:10]}T{text[11:19]}+0000"


def shipment_and_package(tracking_id: str, data: Mapping[str, Any]) -> tuple[str | None, str]:
    """A parcel event's numbers: ``shipment`` from the data, ``package`` defaulting to the
    tracking id."""
    shipment = data.get("shipment")
    package = data.get("package")
    return (
        shipment if isinstance(shipment, str) else None,
        package if isinstance(package, str) else tracking_id,
    )


def callback_body(
    *,
    group: str,
    event_id: str,
    shipment: str | None,
    package: str | None,
    created: datetime,
    pushed: datetime,
) -> dict[str, Any]:
    """The body Bring POSTs to a subscriber, keys in Bring's order."""
    return {
        "status": group,
        "id": event_id,
        "shipment": shipment,
        "package": package,
        "created": format_time(created),
        "pushed": format_time(pushed),
    }


def with_pushed(body_without_pushed: str, pushed: datetime) -> str:
    """Append ``"pushed"`` (the send time) to a stored callback body.

    Bodies are shaped at ingest, but ``pushed`` is only known at send time; it is the
    last key, so appending keeps Bring's key order without re-parsing the JSON.
    """
    return f'{body_without_pushed[:-1]},"pushed":"{format_time(pushed)}"}}'


def callback_headers(correlation_id: str) -> dict[str, str]:
    """Bring's callback headers, spelled as Bring spells them.

    ``X-Bring-Application`` names the sending application (Bring sends ``BMEC``); we
    send ``waypost`` rather than impersonate Bring.
    """
    return {
        "X-Bring-Application": APPLICATION,
        "X-bring-Correlation": correlation_id,
        "X-bring-Version": VERSION,
    }


def test_body(*, group: str, event_id: str, package: str, now: datetime) -> dict[str, Any]:
    """The test push: the callback's shape with ``shipment: null`` (what receivers in the
    wild recognise as a test)."""
    return callback_body(
        group=group, event_id=event_id, shipment=None, package=package, created=now, pushed=now
    )
