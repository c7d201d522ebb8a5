"""Bring Event Cast's callback body, time format and headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from waypost.domain import eventcast
from waypost.domain.eventcast import (
    callback_body,
    callback_headers,
    format_time,
    shipment_and_package,
    with_pushed,
)

CREATED = datetime(2019, 4, 13, 5, 41, 49, 123456, tzinfo=UTC)


def test_times_are_brings_format_in_utc() -> None:
    assert format_time(CREATED) == "2019-04-13T05:41:49+0000"
    oslo = CREATED.astimezone(timezone(timedelta(hours=2)))
    assert format_time(oslo) == "2019-04-13T05:41:49+0000"


def test_body_keys_in_brings_order_and_pushed_added_at_send_time() -> None:
    body = callback_body(
        group="DELIVERED",
        event_id="e1",
        shipment="S1",
        package="P1",
        created=CREATED,
        pushed=CREATED,
    )
    assert list(body) == ["status", "id", "shipment", "package", "created", "pushed"]
    stored = orjson.dumps({key: value for key, value in body.items() if key != "pushed"})
    sent = orjson.loads(with_pushed(stored.decode(), CREATED + timedelta(minutes=3)))
    assert list(sent) == list(body)
    assert sent["pushed"] == "2019-04-13T05:44:49+0000"


def test_package_defaults_to_the_tracking_id_and_test_pushes_have_no_shipment() -> None:
    assert shipment_and_package("TRACK1", {"shipment": "S9"}) == ("S9", "TRACK1")
    assert shipment_and_package("TRACK1", {"shipment": 7, "package": "P2"}) == (None, "P2")
    dummy = eventcast.test_body(group="IN_TRANSIT", event_id="e", package="TRACK1", now=CREATED)
    assert (dummy["shipment"], dummy["package"], dummy["status"]) == (None, "TRACK1", "IN_TRANSIT")


def test_headers_are_spelled_as_bring_spells_them() -> None:
    assert callback_headers("d-1") == {
        "X-Bring-Application": "waypost",
        "X-bring-Correlation": "d-1",
        "X-bring-Version": "1",
    }
