"""JSON log lines: ``event key=value ...`` messages become stable fields."""

from __future__ import annotations

import logging

import orjson

from waypost.observability.logs import JsonFormatter, fields_of


def test_event_and_fields_with_numbers_and_spaces() -> None:
    message = (
        "attempt_recorded tenant_id=t1 delivery_id=d1 webhook_id=w1 attempt=2 "
        "status_code=None duration_ms=12.5 outcome=retry"
    )
    assert fields_of(message) == {
        "event": "attempt_recorded",
        "tenant_id": "t1",
        "delivery_id": "d1",
        "webhook_id": "w1",
        "attempt": 2,
        "status_code": None,
        "duration_ms": 12.5,
        "outcome": "retry",
    }
    reason = "claim_failed owner=h:1:ab reason=database read failed: Boom x=1"
    assert fields_of(reason)["reason"] == "database read failed: Boom"


def test_a_line_of_another_shape_keeps_its_text() -> None:
    assert fields_of("Application startup complete.") == {
        "event": "log",
        "message": "Application startup complete.",
    }
    assert fields_of("dispatcher_started") == {"event": "dispatcher_started"}


def test_formatter_writes_one_json_object() -> None:
    record = logging.LogRecord(
        "waypost.x", logging.INFO, __file__, 1, "record_failed count=%d", (3,), None
    )
    line = orjson.loads(JsonFormatter().format(record))
    assert line["event"] == "record_failed" and line["count"] == 3
    assert line["level"] == "info" and line["logger"] == "waypost.x"
