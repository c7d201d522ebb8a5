"""Per-tenant request limits (Bring: 50 concurrent requests per user, 10 on the test endpoint).

Limits are kept in the memory of each api process: with several api
processes, each enforces them separately (see the README).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from waypost.domain.models import Principal
from waypost.errors import RateLimited

TOO_MANY = "Try again a bit later, or decrease amount of requests"


def caller_key(principal: Principal) -> str:
    """Whom the concurrency limits count a request against: the user, else the credential."""
    return principal.user_id or principal.credential_id


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class Limiter:
    """A token bucket per tenant plus a cap on concurrent requests per caller."""

    rate: float
    burst: int
    max_concurrent: int
    max_concurrent_tests: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _active: defaultdict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def take_token(self, tenant_id: str) -> None:
        now = time.monotonic()
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            bucket = self._buckets[tenant_id] = _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            raise RateLimited(TOO_MANY, retry_after=math.ceil((1 - bucket.tokens) / self.rate))
        bucket.tokens -= 1

    def enter(self, caller: str, kind: str) -> None:
        """Count one more request in flight for ``caller``; 429 when over its cap."""
        cap = self.max_concurrent_tests if kind == "test" else self.max_concurrent
        if self._active[(caller, kind)] >= cap:
            raise RateLimited(TOO_MANY, retry_after=1)
        self._active[(caller, kind)] += 1

    def leave(self, caller: str, kind: str) -> None:
        key = (caller, kind)
        self._active[key] -= 1
        if self._active[key] <= 0:
            del self._active[key]


@dataclass
class SignInThrottle:
    """Slows down sign-in after repeated failures for one e-mail (per process).

    The first ``free`` failures within ``window`` seconds cost nothing; each further
    one doubles the wait before the next answer, up to ``max_delay`` seconds.
    """

    free: int = 5
    window: float = 900.0
    max_delay: float = 30.0
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def _recent(self, email: str) -> list[float]:
        cutoff = time.monotonic() - self.window
        recent = [moment for moment in self._failures.get(email.lower(), []) if moment > cutoff]
        if recent:
            self._failures[email.lower()] = recent
        else:
            self._failures.pop(email.lower(), None)
        return recent

    def delay(self, email: str) -> float:
        excess = len(self._recent(email)) - self.free
        return 0.0 if excess < 0 else min(self.max_delay, 0.5 * 2.0**excess)

    def failed(self, email: str) -> None:
        self._failures.setdefault(email.lower(), []).append(time.monotonic())

    def succeeded(self, email: str) -> None:
        self._failures.pop(email.lower(), None)
