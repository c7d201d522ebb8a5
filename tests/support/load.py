"""A steady, bounded stream of single events from a thread, as a producer would post them.

Each event carries its number ``n``. Every answer is kept, so a test can check that none
was anything but 202 or 503; with ``retry_unavailable``, an event answered 503 is posted
again once its ``Retry-After`` has passed, as waypost tells clients to, without holding
up the events after it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

import httpx


class Load:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        rate: float,
        max_events: int,
        max_seconds: float,
        retry_unavailable: bool = False,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )
        self._interval = 1 / rate
        self._max_events = max_events
        self._max_seconds = max_seconds
        self._retry_unavailable = retry_unavailable
        self._retries: deque[tuple[float, int]] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.posted = 0
        """How many distinct events were posted: ``n`` runs from 0 to this, exclusive."""
        self.accepted: list[int] = []
        """The ``n`` of every event answered 202."""
        self.statuses: Counter[int] = Counter()
        self.unavailable: list[httpx.Response] = []
        self.transport_errors: list[str] = []

    @property
    def retrying(self) -> int:
        """Events answered 503 that are still to be posted again."""
        return len(self._retries)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop posting (the request under way gets its answer first); safe to call twice."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)
        self._client.close()

    def _run(self) -> None:
        deadline = time.monotonic() + self._max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            # Retry-After is the same for every 503, so the queue is in order of due time.
            while self._retries and self._retries[0][0] <= time.monotonic():
                self._post(self._retries.popleft()[1])
            if self.posted < self._max_events:
                self._post(self.posted)
                self.posted += 1
            self._stop.wait(self._interval)

    def _post(self, n: int) -> None:
        try:
            response = self._client.post(
                "/api/v1/events", json={"type": "task_created", "data": {"n": n}}
            )
        except httpx.HTTPError as exc:
            self.transport_errors.append(repr(exc))
            return
        self.statuses[response.status_code] += 1
        if response.status_code == 202:
            self.accepted.append(n)
        elif response.status_code == 503:
            self.unavailable.append(response)
            if self._retry_unavailable:
                wait = float(response.headers.get("retry-after", "1"))
                self._retries.append((time.monotonic() + wait, n))
