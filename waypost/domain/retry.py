"""The retry policy: what one attempt's outcome means for its delivery.

Bringg's rules: only HTTP 200 is success (a subscription may opt into any 2xx);
500, 502, 503 and 504 are retried, as are timeouts and connection errors; 429
is retried after its ``Retry-After``; every other answer (3xx included:
redirects are never followed) fails at once. When the schedule runs out, the
delivery fails. The clock and randomness are passed in, so every decision is a
pure function of its inputs.

Attempts can also fail on waypost's side, before or after the request. One
whose request cannot be built from the subscription's stored settings (a
header with a line break, a URL that is not one, a JWT key that cannot sign:
saved before the checks that now refuse them) fails at once, as the same
settings would fail the same way on every retry. Any other exception is a
defect, and a defect may be passing (a bad answer of a token endpoint, a
corner of some parser): it is retried like a connection error, so it loses
nothing, and fails after the last retry, so it shows in the undelivered report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Literal

SuccessCodes = Literal["200", "2xx"]

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
TOO_MANY_REQUESTS = 429
MAX_RETRY_AFTER = 24 * 3600.0
"""A receiver's Retry-After is honoured up to a day; beyond that it is capped."""


class OutcomeKind(StrEnum):
    SUCCESS = "success"
    HTTP_STATUS = "http_status"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    REFUSED_TARGET = "refused_target"
    ACK_REJECTED = "ack_rejected"
    UNSENDABLE = "unsendable"
    """The request cannot be built from the subscription's stored settings."""
    INTERNAL_ERROR = "internal_error"
    """An unexpected exception on waypost's side of the attempt."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    kind: OutcomeKind
    status_code: int | None = None
    retry_after: float | None = None
    reason: str | None = None


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    verdict: Verdict
    next_attempt_at: datetime | None = None
    reason: str | None = None


# Which outcomes are worth another try. A TLS error may be fixed by the receiver (a
# renewed certificate), so it retries like a connection error; a refused private
# target will not change by waiting, and neither will a rejected acknowledgement or
# settings that cannot make a request. A defect may pass (see the module's docstring).
_RETRYABLE_KINDS = frozenset(
    {
        OutcomeKind.TIMEOUT,
        OutcomeKind.CONNECTION_ERROR,
        OutcomeKind.TLS_ERROR,
        OutcomeKind.INTERNAL_ERROR,
    }
)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date)."""
    if value is None:
        return None
    text = value.strip()
    # ASCII digits only (RFC 9110's DIGIT): "²" is a digit to str.isdigit but no number.
    if text.isascii() and text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max(0.0, (moment - now).total_seconds()), MAX_RETRY_AFTER)


def is_success(status_code: int, success_codes: str) -> bool:
    return status_code == 200 or (success_codes == "2xx" and 200 <= status_code < 300)


def classify_response(
    status_code: int, success_codes: str, retry_after_header: str | None, now: datetime
) -> Outcome:
    if is_success(status_code, success_codes):
        return Outcome(kind=OutcomeKind.SUCCESS, status_code=status_code)
    retry_after = (
        parse_retry_after(retry_after_header, now) if status_code == TOO_MANY_REQUESTS else None
    )
    return Outcome(kind=OutcomeKind.HTTP_STATUS, status_code=status_code, retry_after=retry_after)


def _retryable(outcome: Outcome) -> bool:
    if outcome.kind == OutcomeKind.HTTP_STATUS:
        return outcome.status_code in RETRYABLE_STATUS or outcome.status_code == TOO_MANY_REQUESTS
    return outcome.kind in _RETRYABLE_KINDS


def _describe(outcome: Outcome) -> str:
    if outcome.kind == OutcomeKind.HTTP_STATUS:
        return f"HTTP {outcome.status_code}"
    return outcome.reason or str(outcome.kind).replace("_", " ")


def exponential_delays(base: float, factor: float, retries: int, cap: float) -> tuple[float, ...]:
    """``base, base*factor, ...`` capped at ``cap``: e.g. 30 s doubling up to 6 h."""
    return tuple(min(cap, base * factor**number) for number in range(retries))


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    delays: tuple[float, ...]
    """Seconds before each retry; its length is the number of retries."""
    jitter: float = 0.0
    """Spread each delay by up to this fraction either way (0.1 = ±10 %)."""

    def decide(
        self, attempt: int, outcome: Outcome, now: datetime, rng: random.Random
    ) -> RetryDecision:
        """What follows attempt number ``attempt`` (1-based) ending in ``outcome``."""
        if outcome.kind == OutcomeKind.SUCCESS:
            return RetryDecision(verdict=Verdict.DELIVERED)
        if not _retryable(outcome):
            return RetryDecision(
                verdict=Verdict.FAILED, reason=f"{_describe(outcome)} is not retried"
            )
        if attempt > len(self.delays):
            return RetryDecision(
                verdict=Verdict.FAILED, reason=f"{_describe(outcome)} after {attempt} attempts"
            )
        delay = self.delays[attempt - 1]
        if outcome.retry_after is not None:
            delay = outcome.retry_after
        elif self.jitter:
            delay *= 1 + rng.uniform(-self.jitter, self.jitter)
        return RetryDecision(
            verdict=Verdict.RETRY,
            next_attempt_at=now + timedelta(seconds=max(0.0, delay)),
            reason=_describe(outcome),
        )
