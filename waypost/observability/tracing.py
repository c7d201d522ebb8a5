"""Traces: OpenTelemetry spans, exported over OTLP when the standard variables ask for it.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set
(and neither ``OTEL_SDK_DISABLED=true`` nor ``OTEL_TRACES_EXPORTER=none``); the
exporter reads the other standard variables itself (headers, timeout, protocol
details, ``OTEL_BSP_*``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``). Off, every
helper here returns at once: the hot paths pay a attribute test, not a span.

Spans: ``ingest`` (the request, continuing an incoming ``traceparent``) with ``route``
and ``write`` below it; ``attempt`` for each send, whose parent is the ingest span
(its ``traceparent`` is stored with the delivery, so a ``worker`` elsewhere continues
the same trace), with the HTTP client's ``POST`` below it. No span holds a URL with
credentials, a header value, a body or a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import waypost

log = logging.getLogger(__name__)

_PROPAGATOR = TraceContextTextMapPropagator()
_NO_SPAN: nullcontext[None] = nullcontext()
_NO_CLIENT_SPAN: nullcontext[tuple[None, None]] = nullcontext((None, None))


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the standard OpenTelemetry variables ask for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


class Tracing:
    """This process's tracer: spans exported in batches over OTLP/HTTP, or none at all.

    Kept on the process's resources and passed in, not installed as OpenTelemetry's
    global provider: nothing else in the process changes behaviour because of it.
    """

    def __init__(self, provider: Any | None = None) -> None:
        self._provider = provider
        self.enabled = provider is not None
        self.tracer: Tracer = (
            provider.get_tracer("waypost", waypost.__version__)
            if provider is not None
            else trace.NoOpTracer()
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], role: str) -> Tracing:
        """Tracing as the standard variables ask; off unless an OTLP endpoint is set."""
        if not wanted(environ):
            return cls()
        # Imported only when on: the SDK and the exporter cost start-up time and memory.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create(
            {
                "service.name": "waypost",
                "service.version": waypost.__version__,
                "waypost.role": role,
            }
        )
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing_started role=%s", role)
        return cls(provider)

    def shutdown(self) -> None:
        """Export what is buffered and stop (at exit)."""
        if self._provider is not None:
            self._provider.shutdown()

    # Ingest.

    def ingest(self, name: str, headers: Mapping[str, str]) -> Any:
        """The span of an ingest request, continuing the producer's ``traceparent``."""
        if not self.enabled:
            return _NO_SPAN
        parent = _PROPAGATOR.extract(headers) if "traceparent" in headers else None
        return self.tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER)

    def child(self, name: str, **attributes: Any) -> Any:
        """A span under the current one (``route``, ``write``)."""
        if not self.enabled:
            return _NO_SPAN
        return self.tracer.start_as_current_span(name, attributes=attributes or None)

    def current_traceparent(self) -> str | None:
        """The current span's ``traceparent``, to keep with what it stores; ``None`` off."""
        if not self.enabled:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    # Delivery.

    def attempt(self, traceparent: str | None, **attributes: Any) -> AbstractContextManager[Span]:
        """The span of one attempt, under the ingest span that ``traceparent`` names (a
        new trace without one); only called while tracing is on."""
        parent: Context | None = (
            _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
        )
        return self.tracer.start_as_current_span("attempt", context=parent, attributes=attributes)

    def http_client(
        self, url: str
    ) -> AbstractContextManager[tuple[Span, str | None] | tuple[None, None]]:
        """The HTTP client span of a send and the ``traceparent`` naming it; ``(None,
        None)`` while tracing is off.

        Only the scheme, host and port of ``url`` are recorded: its path or query may
        hold a token, its userinfo a password."""
        if not self.enabled:
            return _NO_CLIENT_SPAN
        return self._http_client(url)

    @contextmanager
    def _http_client(self, url: str) -> Iterator[tuple[Span, str | None]]:
        parts = urlsplit(url)
        attributes: dict[str, Any] = {
            "http.request.method": "POST",
            "url.scheme": parts.scheme,
            "server.address": parts.hostname or "",
        }
        with suppress(ValueError):  # a port out of range: the send reports it
            if parts.port is not None:
                attributes["server.port"] = parts.port
        with self.tracer.start_as_current_span(
            "POST", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            yield span, carrier.get("traceparent")
