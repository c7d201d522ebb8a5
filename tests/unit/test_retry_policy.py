"""Bringg's delivery rules as a pure decision: what each outcome means for a delivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from waypost.domain.retry import (
    Outcome,
    OutcomeKind,
    RetryPolicy,
    Verdict,
    classify_response,
    exponential_delays,
    parse_retry_after,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BRINGG = RetryPolicy(delays=(60.0, 60.0, 60.0))
RNG = random.Random(7)


def answer(status: int, success_codes: str = "200", retry_after: str | None = None) -> Outcome:
    return classify_response(status, success_codes, retry_after, NOW)


def test_only_200_is_success_unless_the_subscription_opts_into_2xx() -> None:
    assert BRINGG.decide(1, answer(200), NOW, RNG).verdict == Verdict.DELIVERED
    created = BRINGG.decide(1, answer(201), NOW, RNG)
    assert (created.verdict, created.reason) == (Verdict.FAILED, "HTTP 201 is not retried")
    assert BRINGG.decide(1, answer(201, "2xx"), NOW, RNG).verdict == Verdict.DELIVERED
    assert BRINGG.decide(1, answer(300, "2xx"), NOW, RNG).verdict == Verdict.FAILED


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_three_times_a_minute_apart(status: int) -> None:
    for attempt in (1, 2, 3):
        decision = BRINGG.decide(attempt, answer(status), NOW, RNG)
        assert decision.verdict == Verdict.RETRY
        assert decision.next_attempt_at == NOW + timedelta(seconds=60)
    last = BRINGG.decide(4, answer(status), NOW, RNG)
    assert (last.verdict, last.reason) == (Verdict.FAILED, f"HTTP {status} after 4 attempts")


@pytest.mark.parametrize("status", [301, 302, 400, 401, 404, 410, 501])
def test_other_answers_fail_at_once(status: int) -> None:
    assert BRINGG.decide(1, answer(status), NOW, RNG).verdict == Verdict.FAILED


@pytest.mark.parametrize(
    "kind", [OutcomeKind.TIMEOUT, OutcomeKind.CONNECTION_ERROR, OutcomeKind.TLS_ERROR]
)
def test_network_failures_are_retried(kind: OutcomeKind) -> None:
    decision = BRINGG.decide(1, Outcome(kind=kind, reason="boom"), NOW, RNG)
    assert (decision.verdict, decision.reason) == (Verdict.RETRY, "boom")


def test_refused_targets_and_rejected_acks_are_not_retried() -> None:
    for kind in (OutcomeKind.REFUSED_TARGET, OutcomeKind.ACK_REJECTED):
        assert BRINGG.decide(1, Outcome(kind=kind), NOW, RNG).verdict == Verdict.FAILED


def test_settings_that_cannot_make_a_request_fail_at_once() -> None:
    outcome = Outcome(kind=OutcomeKind.UNSENDABLE, reason="cannot build the request: header 'X'")
    decision = BRINGG.decide(1, outcome, NOW, RNG)
    assert (decision.verdict, decision.next_attempt_at) == (Verdict.FAILED, None)
    assert decision.reason == "cannot build the request: header 'X' is not retried"


def test_internal_errors_are_retried_on_the_schedule_then_fail() -> None:
    outcome = Outcome(kind=OutcomeKind.INTERNAL_ERROR, reason="internal error: KeyError")
    for attempt in (1, 2, 3):
        decision = BRINGG.decide(attempt, outcome, NOW, RNG)
        assert decision.verdict == Verdict.RETRY
        assert decision.next_attempt_at == NOW + timedelta(seconds=60)
    last = BRINGG.decide(4, outcome, NOW, RNG)
    assert (last.verdict, last.reason) == (
        Verdict.FAILED,
        "internal error: KeyError after 4 attempts",
    )


@pytest.mark.parametrize("value", ["²", "١٢", "1.5", "-3", ""])
def test_retry_after_seconds_are_ascii_digits_only(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


def test_429_waits_for_retry_after_in_seconds_or_as_a_date() -> None:
    seconds = BRINGG.decide(1, answer(429, retry_after="120"), NOW, RNG)
    assert seconds.next_attempt_at == NOW + timedelta(seconds=120)
    date = BRINGG.decide(1, answer(429, retry_after="Mon, 23 Nov 2026 12:05:00 GMT"), NOW, RNG)
    assert date.next_attempt_at == NOW + timedelta(minutes=5)
    garbage = BRINGG.decide(1, answer(429, retry_after="soon"), NOW, RNG)
    assert garbage.next_attempt_at == NOW + timedelta(seconds=60)
    assert parse_retry_after("999999999", NOW) == 24 * 3600.0
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", NOW) == 0.0


def test_jitter_spreads_delays_within_bounds_and_is_reproducible() -> None:
    policy = RetryPolicy(delays=(100.0,), jitter=0.1)
    moments = [
        policy.decide(1, answer(503), NOW, random.Random(seed)).next_attempt_at
        for seed in range(200)
    ]
    seconds = [(moment - NOW).total_seconds() for moment in moments if moment is not None]
    assert len(seconds) == 200
    assert all(90.0 <= value <= 110.0 for value in seconds)
    assert len(set(seconds)) > 100
    again = policy.decide(1, answer(503), NOW, random.Random(3)).next_attempt_at
    assert again == policy.decide(1, answer(503), NOW, random.Random(3)).next_attempt_at


def test_exponential_schedule_doubles_up_to_its_cap() -> None:
    assert exponential_delays(30, 2, 6, 600) == (30, 60, 120, 240, 480, 600)
    assert exponential_delays(5, 1, 3, 60) == (5, 5, 5)
