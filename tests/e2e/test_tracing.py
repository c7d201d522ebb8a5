"""Traces over OTLP/HTTP from real processes: a producer's ``traceparent`` on ingest at an
``api`` is continued, and the attempt that a separate ``worker`` sends lands in the same
trace, under the ingest span; only a subscription that asks gets ``traceparent``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.test_durability import api_client, receiving
from tests.support.deployment import create_tenant, deployment, subscribe, wait_until

pytestmark = pytest.mark.slow

PRODUCER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PRODUCER_SPAN = "00f067aa0ba902b7"


@dataclass(frozen=True)
class ReceivedSpan:
    service_role: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, object]


class Collector:
    """An OTLP/HTTP trace receiver on 127.0.0.1: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/traces":
                    collector.received(body)
                    self.send_response(200)
                else:
                    self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def received(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes: dict[str, object] = {}
                    for attribute in span.attributes:
                        value = attribute.value
                        kind = value.WhichOneof("value")
                        attributes[attribute.key] = getattr(value, kind) if kind else None
                    found.append(
                        ReceivedSpan(
                            service_role=resource.get("waypost.role", ""),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=attributes,
                        )
                    )
        with self._lock:
            self.spans.extend(found)

    def named(self, name: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.name == name]

    @contextmanager
    def running(self) -> Iterator[Collector]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_trace_from_the_producer_through_a_workers_attempt(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = create_tenant(database_url)
    with ExitStack() as stack:
        collector = stack.enter_context(Collector().running())
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        receiver = stack.enter_context(receiving())
        running = stack.enter_context(deployment(database_url, tmp_path))
        client = stack.enter_context(api_client(running, tenant))
        traced = subscribe(client, receiver.url("/traced"), send_traceparent=True)
        assert traced["send_traceparent"] is True
        plain = subscribe(client, receiver.url("/plain"))
        assert plain["send_traceparent"] is False

        producer = f"00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01"
        response = client.post(
            "/api/v1/events",
            json={"type": "task_created", "data": {"id": 1}},
            headers={"traceparent": producer},
        )
        assert response.status_code == 202, response.text
        receiver.wait_until(1, path="/traced")
        receiver.wait_until(1, path="/plain")

        wait_until(lambda: len(collector.named("attempt")) >= 2, 30, "no attempt spans")
        wait_until(lambda: collector.named("ingest"), 30, "no ingest span")

    [ingest] = collector.named("ingest")
    assert ingest.service_role == "api"
    assert ingest.trace_id == PRODUCER_TRACE
    assert ingest.parent_span_id == PRODUCER_SPAN
    in_trace = [span for span in collector.spans if span.trace_id == PRODUCER_TRACE]
    names = {span.name for span in in_trace}
    assert {"ingest", "route", "write", "attempt", "POST"} <= names, names
    attempts = [span for span in in_trace if span.name == "attempt"]
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.service_role == "worker"
        assert attempt.parent_span_id == ingest.span_id
        assert attempt.attributes["http.response.status_code"] == 200
        assert attempt.attributes["waypost.outcome"] == "delivered"
        assert attempt.attributes["waypost.attempt"] == 1
    webhooks = {attempt.attributes["waypost.webhook_id"] for attempt in attempts}
    assert webhooks == {traced["id"], plain["id"]}
    posts = {span.span_id: span for span in in_trace if span.name == "POST"}
    for post in posts.values():
        assert post.parent_span_id in {attempt.span_id for attempt in attempts}
        # Where it went, never the whole URL (a path or query may hold a token).
        assert "url.full" not in post.attributes

    [sent] = receiver.requests_for("/traced")
    traceparent = sent.header("traceparent")
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-")
    assert trace_id == PRODUCER_TRACE
    assert span_id in posts
    [unsent] = receiver.requests_for("/plain")
    assert unsent.header("traceparent") is None
