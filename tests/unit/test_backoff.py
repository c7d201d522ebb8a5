"""Pauses between tries of a failing database: doubling, capped, and reset by a success."""

from __future__ import annotations

from waypost.domain.backoff import Backoff


def test_pauses_double_up_to_the_cap_and_start_over_after_a_success() -> None:
    backoff = Backoff(cap=1.0, first=0.1)
    assert [backoff.next() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.1


def test_a_cap_below_the_first_pause_is_every_pause() -> None:
    backoff = Backoff(cap=0.05)
    assert [backoff.next() for _ in range(3)] == [0.05, 0.05, 0.05]
