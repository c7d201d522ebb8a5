"""The judgement of one attempt, as a table: the request's facts and the subscription's
terms in, the delivery's new status, next attempt, error and acknowledgement out."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest

from waypost.domain.ack import Acknowledgement
from waypost.domain.attempts import FailureKind, Judgement, judge_attempt
from waypost.domain.models import DeliveryStatus
from waypost.domain.retry import RetryPolicy

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BRINGG = RetryPolicy(delays=(60.0, 60.0, 60.0))
PENDING = DeliveryStatus.PENDING
DELIVERED = DeliveryStatus.DELIVERED
FAILED = DeliveryStatus.FAILED
ACK = b'{"success": true, "delivery_id": "D-1", "delivery_cost": 250, "green_delivery": true}'
ACCEPTED = Acknowledgement(delivery_id="D-1", delivery_cost=250, green_delivery=True)


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What one request came to, as the sender reports it."""

    failure: FailureKind | None = None
    error: str | None = None
    status_code: int | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def answered(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Facts:
    return Facts(status_code=status, response_headers=headers or {}, body=body)


def failed(kind: FailureKind, error: str) -> Facts:
    return Facts(failure=kind, error=error)


class Case(NamedTuple):
    facts: Facts
    terms: dict[str, Any]
    """``judge_attempt``'s keywords beyond the defaults of ``judge``."""
    expected: Judgement


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def verdict(
    status: DeliveryStatus,
    error: str | None = None,
    next_at: datetime | None = None,
    **rest: Any,
) -> Judgement:
    return Judgement(status=status, next_attempt_at=next_at, error=error, **rest)


CASES = {
    # Bringg's rule: only 200 is success, unless the subscription opts into any 2xx.
    "200": Case(answered(200), {}, verdict(DELIVERED)),
    "201": Case(answered(201), {}, verdict(FAILED, "HTTP 201 is not retried")),
    "201, 2xx": Case(answered(201), {"success_codes": "2xx"}, verdict(DELIVERED)),
    "300, 2xx": Case(
        answered(300), {"success_codes": "2xx"}, verdict(FAILED, "HTTP 300 is not retried")
    ),
    "302": Case(
        answered(302, headers={"Location": "/"}), {}, verdict(FAILED, "HTTP 302 is not retried")
    ),
    "404": Case(answered(404), {}, verdict(FAILED, "HTTP 404 is not retried")),
    # 500, 502, 503 and 504 retry on the schedule, then fail.
    "503, first": Case(answered(503), {}, verdict(PENDING, "HTTP 503", later(60))),
    "500, third": Case(answered(500), {"attempt": 3}, verdict(PENDING, "HTTP 500", later(60))),
    "504, last": Case(answered(504), {"attempt": 4}, verdict(FAILED, "HTTP 504 after 4 attempts")),
    "502, own schedule": Case(
        answered(502),
        {"attempt": 2, "policy": RetryPolicy(delays=(5.0, 30.0))},
        verdict(PENDING, "HTTP 502", later(30)),
    ),
    # 429 waits for its Retry-After (any spelling of the name); no other status does.
    "429, Retry-After": Case(
        answered(429, headers={"Retry-After": "120"}), {}, verdict(PENDING, "HTTP 429", later(120))
    ),
    "429, retry-after": Case(
        answered(429, headers={"retry-after": "5"}), {}, verdict(PENDING, "HTTP 429", later(5))
    ),
    "429, without": Case(answered(429), {}, verdict(PENDING, "HTTP 429", later(60))),
    "429, last": Case(
        answered(429, headers={"Retry-After": "1"}),
        {"attempt": 4},
        verdict(FAILED, "HTTP 429 after 4 attempts"),
    ),
    "503, Retry-After": Case(
        answered(503, headers={"Retry-After": "1"}), {}, verdict(PENDING, "HTTP 503", later(60))
    ),
    # Failures without an answer: the sender's error is the attempt's error.
    "timeout": Case(
        failed(FailureKind.TIMEOUT, "timeout after 10 s"),
        {},
        verdict(PENDING, "timeout after 10 s", later(60)),
    ),
    "connection error, last": Case(
        failed(FailureKind.CONNECTION_ERROR, "cannot connect: refused"),
        {"attempt": 4},
        verdict(FAILED, "cannot connect: refused"),
    ),
    "TLS error": Case(
        failed(FailureKind.TLS_ERROR, "TLS error: expired"),
        {},
        verdict(PENDING, "TLS error: expired", later(60)),
    ),
    "token endpoint down": Case(
        failed(FailureKind.AUTH_ERROR, "token request failed: HTTP 503"),
        {},
        verdict(PENDING, "token request failed: HTTP 503", later(60)),
    ),
    "refused target": Case(
        failed(FailureKind.REFUSED_TARGET, "127.0.0.1 is private"),
        {},
        verdict(FAILED, "127.0.0.1 is private"),
    ),
    "unsendable": Case(
        failed(FailureKind.UNSENDABLE, "header 'X' has a line break"),
        {},
        verdict(FAILED, "header 'X' has a line break"),
    ),
    "internal error": Case(
        failed(FailureKind.INTERNAL_ERROR, "internal error: KeyError (see the log)"),
        {},
        verdict(PENDING, "internal error: KeyError (see the log)", later(60)),
    ),
    "internal error, last": Case(
        failed(FailureKind.INTERNAL_ERROR, "internal error: KeyError (see the log)"),
        {"attempt": 4},
        verdict(FAILED, "internal error: KeyError (see the log)"),
    ),
    # Acknowledgements: a success must carry one when the subscription or type needs it.
    "ack accepted": Case(
        answered(200, ACK), {"require_ack": True}, verdict(DELIVERED, ack=ACCEPTED)
    ),
    "ack rejected": Case(
        answered(200, b'{"success": false, "error_message": "no driver"}'),
        {"require_ack": True},
        verdict(
            FAILED,
            "acknowledgement rejected: no driver is not retried",
            ack_error_message="acknowledgement rejected: no driver",
        ),
    ),
    "ack not JSON": Case(
        answered(200, b"OK"),
        {"require_ack": True},
        verdict(
            FAILED,
            "acknowledgement is not JSON is not retried",
            ack_error_message="acknowledgement is not JSON",
        ),
    ),
    "ack, 201": Case(
        answered(201, ACK), {"require_ack": True}, verdict(FAILED, "HTTP 201 is not retried")
    ),
    "ack, 2xx": Case(
        answered(202, ACK),
        {"require_ack": True, "success_codes": "2xx"},
        verdict(DELIVERED, ack=ACCEPTED),
    ),
    "ack, 503": Case(
        answered(503, ACK), {"require_ack": True}, verdict(PENDING, "HTTP 503", later(60))
    ),
    "ack by the event type": Case(
        answered(200, b"OK"),
        {"event_type": "delivery_created"},
        verdict(
            FAILED,
            "acknowledgement is not JSON is not retried",
            ack_error_message="acknowledgement is not JSON",
        ),
    ),
    "no ack needed": Case(answered(200, b"not JSON at all"), {}, verdict(DELIVERED)),
    # Event Cast: a delivered terminal event ends its tracking-id subscription.
    "terminal event delivered": Case(
        answered(200),
        {"eventcast": True, "event_type": "DELIVERED"},
        verdict(DELIVERED, ends_subscription=True),
    ),
    "terminal event retried": Case(
        answered(503),
        {"eventcast": True, "event_type": "DELIVERED"},
        verdict(PENDING, "HTTP 503", later(60)),
    ),
    "terminal event failed": Case(
        answered(404),
        {"eventcast": True, "event_type": "DELIVERED"},
        verdict(FAILED, "HTTP 404 is not retried"),
    ),
    "other event delivered": Case(
        answered(200), {"eventcast": True, "event_type": "IN_TRANSIT"}, verdict(DELIVERED)
    ),
    "terminal type, not Event Cast": Case(
        answered(200), {"eventcast": False, "event_type": "DELIVERED"}, verdict(DELIVERED)
    ),
}


def judge(facts: Facts, **terms: Any) -> Judgement:
    keywords: dict[str, Any] = {
        "attempt": 1,
        "event_type": "order_created",
        "eventcast": False,
        "success_codes": "200",
        "require_ack": False,
        "policy": BRINGG,
        "now": NOW,
        "rng": random.Random(7),
        **terms,
    }
    return judge_attempt(facts, **keywords)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_judgement(case: Case) -> None:
    assert judge(case.facts, **case.terms) == case.expected


def test_jitter_comes_from_the_random_source_passed_in() -> None:
    policy = RetryPolicy(delays=(100.0,), jitter=0.1)
    moments = {
        judge(answered(503), policy=policy, rng=random.Random(seed)).next_attempt_at
        for seed in range(50)
    }
    assert len(moments) > 25
    assert all(moment is not None and later(90) <= moment <= later(110) for moment in moments)
    again = judge(answered(503), policy=policy, rng=random.Random(3))
    assert again == judge(answered(503), policy=policy, rng=random.Random(3))


def test_the_backoff_counts_from_the_moment_judged() -> None:
    answered_at = NOW + timedelta(seconds=7)
    found = judge(answered(503), now=answered_at)
    assert found.next_attempt_at == answered_at + timedelta(seconds=60)
