"""The judgement of one attempt: what a request's answer, or its failure, means for its delivery.

``judge_attempt`` is a pure function of the attempt's facts (how the request failed, or
the answer's status, headers and body) and the subscription's terms (its success codes,
whether an acknowledgement is needed, its retry policy, whether it is an Event Cast
subscription), with the clock and randomness passed in. It brings together, in this
order, the rules of ``retry.py`` (which answers succeed, which are retried and when),
``ack.py`` (an acknowledgement a success must carry) and ``eventcast.py`` (a delivered
terminal event ends its tracking-id subscription); the new status comes from the
lifecycle's table.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from waypost.domain.ack import Acknowledgement, needs_ack, parse_ack
from waypost.domain.eventcast import TERMINAL_GROUP
from waypost.domain.lifecycle import PENDING, Trigger, after
from waypost.domain.models import DeliveryStatus
from waypost.domain.retry import (
    TOO_MANY_REQUESTS,
    Outcome,
    OutcomeKind,
    RetryPolicy,
    Verdict,
    classify_response,
)


class FailureKind(StrEnum):
    """How an attempt ended without an answer."""

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    REFUSED_TARGET = "refused_target"
    AUTH_ERROR = "auth_error"
    UNSENDABLE = "unsendable"
    """The subscription's stored URL, headers or credentials cannot make a request."""
    INTERNAL_ERROR = "internal_error"
    """An unexpected exception on waypost's side of the attempt: a defect."""


class Answer(Protocol):
    """What one request came to: a failure, or an answer (the sender's ``SendResult``)."""

    @property
    def failure(self) -> FailureKind | None: ...

    @property
    def error(self) -> str | None:
        """Human-readable failure; never contains request header values."""

    @property
    def status_code(self) -> int | None: ...

    @property
    def response_headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, kw_only=True)
class Judgement:
    """What an attempt decides for its delivery."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    """When to try again: set only when ``status`` is pending."""
    error: str | None
    """The failure, or why the answer does not count as delivered; ``None`` if delivered."""
    ack: Acknowledgement | None = None
    """The receiver's accepted acknowledgement."""
    ack_error_message: str | None = None
    """Why the receiver's acknowledgement was rejected."""
    ends_subscription: bool = False


_FAILURE_OUTCOMES = {
    FailureKind.TIMEOUT: OutcomeKind.TIMEOUT,
    FailureKind.CONNECTION_ERROR: OutcomeKind.CONNECTION_ERROR,
    FailureKind.TLS_ERROR: OutcomeKind.TLS_ERROR,
    FailureKind.REFUSED_TARGET: OutcomeKind.REFUSED_TARGET,
    # A token endpoint that is down now may be up at the next retry.
    FailureKind.AUTH_ERROR: OutcomeKind.CONNECTION_ERROR,
    FailureKind.UNSENDABLE: OutcomeKind.UNSENDABLE,
    FailureKind.INTERNAL_ERROR: OutcomeKind.INTERNAL_ERROR,
}


def _status(trigger: Trigger) -> DeliveryStatus:
    status = after(PENDING, trigger)
    assert status is not None, f"the lifecycle has no {trigger} of a pending delivery"
    return status


_VERDICT_STATUS = {
    Verdict.DELIVERED: _status(Trigger.ATTEMPT_DELIVERED),
    Verdict.RETRY: _status(Trigger.ATTEMPT_RETRY),
    Verdict.FAILED: _status(Trigger.ATTEMPT_FAILED),
}

_DELIVERED = Judgement(status=_VERDICT_STATUS[Verdict.DELIVERED], next_attempt_at=None, error=None)
_DELIVERED_ENDING = Judgement(
    status=_VERDICT_STATUS[Verdict.DELIVERED],
    next_attempt_at=None,
    error=None,
    ends_subscription=True,
)


def judge_attempt(
    answer: Answer,
    *,
    attempt: int,
    event_type: str,
    eventcast: bool,
    success_codes: str,
    require_ack: bool,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
) -> Judgement:
    """The judgement of attempt number ``attempt`` (1-based) of a delivery of
    ``event_type``, answered (or failed) at ``now``, to a subscription with these terms:
    ``eventcast`` if it is for one tracking id, ``require_ack`` if it asks every success
    to carry an acknowledgement (some event types always do)."""
    outcome, ack = _outcome(answer, event_type, success_codes, require_ack, now)
    decision = policy.decide(attempt, outcome, now, rng)
    delivered = decision.verdict == Verdict.DELIVERED
    # Event Cast types are named after their group.
    ends = delivered and eventcast and event_type == TERMINAL_GROUP
    if delivered and ack is None and answer.error is None:
        # Most attempts end so, all alike: a judgement shared by all (it is immutable)
        # spares the dispatcher's hot path an allocation per attempt.
        return _DELIVERED_ENDING if ends else _DELIVERED
    return Judgement(
        status=_VERDICT_STATUS[decision.verdict],
        next_attempt_at=decision.next_attempt_at,
        error=answer.error or decision.reason,
        ack=ack,
        ack_error_message=outcome.reason if outcome.kind == OutcomeKind.ACK_REJECTED else None,
        ends_subscription=ends,
    )


def _outcome(
    answer: Answer, event_type: str, success_codes: str, require_ack: bool, now: datetime
) -> tuple[Outcome, Acknowledgement | None]:
    if answer.failure is not None:
        return Outcome(kind=_FAILURE_OUTCOMES[answer.failure], reason=answer.error), None
    assert answer.status_code is not None
    # Only a 429 reads its Retry-After (``classify_response`` ignores it otherwise).
    retry_after = (
        _header(answer.response_headers, "retry-after")
        if answer.status_code == TOO_MANY_REQUESTS
        else None
    )
    outcome = classify_response(answer.status_code, success_codes, retry_after, now)
    if outcome.kind != OutcomeKind.SUCCESS or not needs_ack(event_type, require_ack):
        return outcome, None
    parsed = parse_ack(answer.body)
    if parsed.accepted is None:
        return Outcome(
            kind=OutcomeKind.ACK_REJECTED, status_code=answer.status_code, reason=parsed.rejection
        ), None
    return outcome, parsed.accepted


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
