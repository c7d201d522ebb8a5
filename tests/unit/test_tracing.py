"""Tracing is on only when the standard variables ask, costs nothing off, and a receiver
gets ``traceparent`` only when its subscription asks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.test_dispatcher import NOW, target
from waypost.delivery.outbound import build_request
from waypost.observability.tracing import Tracing, wanted

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_on_only_when_an_otlp_endpoint_is_set(environ: dict[str, str], on: bool) -> None:
    assert wanted(environ) is on


def test_off_makes_no_spans_and_stores_no_traceparent() -> None:
    tracing = Tracing.from_environment({}, "serve")
    assert not tracing.enabled
    with tracing.ingest("ingest", {"traceparent": TRACEPARENT}), tracing.child("route"):
        assert tracing.current_traceparent() is None
    with tracing.http_client("https://user:pass@example.com/x?token=t") as (span, sent):
        assert span is None and sent is None
    tracing.shutdown()


def test_traceparent_only_to_subscriptions_that_ask() -> None:
    plain = target()
    asking = replace(plain, subscription=replace(plain.subscription, send_traceparent=True))
    sent = build_request(asking, b"{}", "msg_1", NOW, traceparent=TRACEPARENT)
    assert sent.headers["traceparent"] == TRACEPARENT
    assert (
        "traceparent"
        not in build_request(plain, b"{}", "msg_1", NOW, traceparent=TRACEPARENT).headers
    )
    assert "traceparent" not in build_request(asking, b"{}", "msg_1", NOW).headers
