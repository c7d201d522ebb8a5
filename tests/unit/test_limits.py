"""The per-tenant limiter: Bring's concurrency caps and the request-rate bucket."""

from __future__ import annotations

import pytest

from waypost.errors import RateLimited
from waypost.services.limits import Limiter


def test_concurrent_requests_are_capped_per_caller_and_kind() -> None:
    limiter = Limiter(rate=1000, burst=1000, max_concurrent=2, max_concurrent_tests=1)
    limiter.enter("alice", "api")
    limiter.enter("alice", "api")
    with pytest.raises(RateLimited):
        limiter.enter("alice", "api")
    limiter.enter("bob", "api")
    limiter.enter("alice", "test")
    with pytest.raises(RateLimited):
        limiter.enter("alice", "test")
    limiter.leave("alice", "api")
    limiter.enter("alice", "api")


def test_bucket_allows_the_burst_then_names_the_wait() -> None:
    limiter = Limiter(rate=0.5, burst=2, max_concurrent=50, max_concurrent_tests=10)
    limiter.take_token("acme")
    limiter.take_token("acme")
    with pytest.raises(RateLimited) as refused:
        limiter.take_token("acme")
    assert refused.value.retry_after == 2
    limiter.take_token("globex")
