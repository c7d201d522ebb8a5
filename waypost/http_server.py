"""The HTTP server of ``serve`` and ``api``: uvicorn's httptools protocol, with deadlines
for clients that send a request too slowly.

uvicorn has no such deadline (asked for in encode/uvicorn#157 in 2018; the PR adding
``--timeout-request-start``, #1685, was closed unmerged). Its keep-alive timer is armed
only after a response and is cancelled by any byte received, so a client trickling a
request head or body one byte at a time holds its connection, and a file descriptor, for
as long as it likes. An ASGI middleware cannot help: the app is called only once the head
is complete, and it cannot close the connection. So the protocol is extended, narrowly:
one timer per connection, switched at the parser's callbacks, and nothing else changed.

- Head: the whole request head must arrive within ``header_timeout`` of the connection
  opening, or of the previous response on a keep-alive connection (nginx's
  ``client_header_timeout``, Go's ``ReadHeaderTimeout``). On expiry the connection is
  closed without an answer, as Go does: there is no request yet to answer.
- Body: the whole body must arrive within ``body_timeout`` of the end of the head (Go's
  ``ReadTimeout``). A deadline on the whole body, not nginx's "between two reads", which
  a client sending a byte a little more often than that defeats. On expiry a request the
  app has not yet answered gets a 408 in waypost's error shape, then the connection is
  closed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from waypost.config import Settings

log = logging.getLogger(__name__)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes connections whose requests arrive too slowly."""

    header_timeout: ClassVar[float]
    body_timeout: ClassVar[float]
    # The phase being timed (what to do when it is late) and when it must end. Starting a
    # phase only notes these; the one timer is moved only when it would fire too late, and
    # when it fires early it waits out the rest. Creating and cancelling a timer costs a few
    # microseconds, several times per request; noting a time costs a fraction of one.
    _expired: Callable[[], None] | None = None
    _ends = 0.0
    _timer: asyncio.TimerHandle | None = None
    _timer_at = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect(self.header_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._expired = None
        if self._timer is not None:
            self._timer.cancel()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._expect(self.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._expired = None
        if self.cycle.response_complete:
            # Answered before its body ended (an error): the next head's time starts now.
            self._expect(self.header_timeout, self._head_too_slow)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Not while the parser is still in this request's body (its own deadline runs),
        # nor while a pipelined request is still being answered, nor once closing.
        if (
            self._expired is None
            and self.cycle.response_complete
            and not self.transport.is_closing()
        ):
            self._expect(self.header_timeout, self._head_too_slow)

    def _expect(self, seconds: float, expired: Callable[[], None]) -> None:
        self._expired = expired
        self._ends = self.loop.time() + seconds
        if self._timer is None or self._timer_at > self._ends:
            self._set_timer()

    def _set_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = self._ends
        self._timer = self.loop.call_at(self._ends, self._check)

    def _check(self) -> None:
        self._timer = None
        expired = self._expired
        if expired is None or self.transport.is_closing():
            return
        if self.loop.time() < self._ends:
            self._set_timer()
            return
        self._expired = None
        expired()

    def _head_too_slow(self) -> None:
        log.info("slow_client_closed phase=head client=%s", self._client())
        self.transport.close()

    def _body_too_slow(self) -> None:
        if self.flow.read_paused:
            # The server is not reading (the app has not taken what came, or a pipelined
            # request waits its turn): not the client's delay.
            self._expect(self.body_timeout, self._body_too_slow)
            return
        log.info("slow_client_closed phase=body client=%s", self._client())
        cycle = self.cycle
        # A 408 only where it is this request's answer: not started, and no earlier
        # pipelined request's response still to come on the connection.
        if not cycle.response_started and not self.pipeline:
            self.transport.write(self._request_timeout(cycle.scope["state"].get("request_id")))
        # The app may still be reading or about to answer: it now sees a disconnect, and
        # what it sends is dropped rather than written after the 408.
        cycle.disconnected = True
        cycle.message_event.set()
        self.transport.close()

    def _request_timeout(self, request_id: str | None) -> bytes:
        # The id RequestIdMiddleware gave the request, so the 408 matches the app's logs.
        request_id = request_id or str(uuid.uuid4())
        reason = f"request body not received within {self.body_timeout:g} s"
        body = orjson.dumps({"uuid": request_id, "status": "408", "reason": reason})
        head = [STATUS_LINE[408]]
        defaults = self.server_state.default_headers  # server, date
        head += [name + b": " + value + b"\r\n" for name, value in defaults]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        return b"".join(head) + body

    def _client(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"


def http_protocol(settings: Settings) -> type[DeadlineProtocol]:
    """The protocol class for uvicorn's ``http=``, with the deadlines of ``settings``."""

    class Configured(DeadlineProtocol):
        header_timeout = settings.http_header_timeout
        body_timeout = settings.http_body_timeout

    return Configured
