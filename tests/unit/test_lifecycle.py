"""The delivery lifecycle as a table: which status may follow which, on what."""

from __future__ import annotations

import pytest

from waypost.domain.lifecycle import (
    INITIAL,
    TRANSITIONS,
    Trigger,
    after,
    allowed,
    sources,
    target,
)
from waypost.domain.models import DeliveryStatus

PENDING = DeliveryStatus.PENDING
DELIVERED = DeliveryStatus.DELIVERED
FAILED = DeliveryStatus.FAILED
CANCELLED = DeliveryStatus.CANCELLED


@pytest.mark.parametrize(
    ("status", "trigger", "expected"),
    [
        (PENDING, Trigger.CLAIMED, PENDING),
        (PENDING, Trigger.LEASE_EXPIRED, PENDING),
        (PENDING, Trigger.ATTEMPT_DELIVERED, DELIVERED),
        (PENDING, Trigger.ATTEMPT_RETRY, PENDING),
        (PENDING, Trigger.ATTEMPT_FAILED, FAILED),
        (PENDING, Trigger.SUBSCRIPTION_ENDED, CANCELLED),
        (PENDING, Trigger.MANUAL_RETRY, None),
        (PENDING, Trigger.REPLAY, None),
        (FAILED, Trigger.MANUAL_RETRY, PENDING),
        (FAILED, Trigger.REPLAY, PENDING),
        (FAILED, Trigger.ATTEMPT_DELIVERED, None),
        (FAILED, Trigger.SUBSCRIPTION_ENDED, None),
        (CANCELLED, Trigger.MANUAL_RETRY, PENDING),
        (CANCELLED, Trigger.REPLAY, None),
        (DELIVERED, Trigger.MANUAL_RETRY, None),
        (DELIVERED, Trigger.REPLAY, None),
        (DELIVERED, Trigger.SUBSCRIPTION_ENDED, None),
    ],
)
def test_transitions(
    status: DeliveryStatus, trigger: Trigger, expected: DeliveryStatus | None
) -> None:
    assert after(status, trigger) == expected
    assert allowed(status, trigger) is (expected is not None)


def test_a_delivery_starts_pending_and_only_delivered_is_final() -> None:
    assert INITIAL == PENDING
    leaving = {status for status, _ in TRANSITIONS}
    assert set(DeliveryStatus) - leaving == {DELIVERED}


def test_every_status_is_reachable_from_the_initial_one() -> None:
    reached = {INITIAL}
    while True:
        more = {new for (old, _), new in TRANSITIONS.items() if old in reached} - reached
        if not more:
            break
        reached |= more
    assert reached == set(DeliveryStatus)


def test_every_trigger_is_in_the_table_and_leads_to_one_status() -> None:
    assert {trigger for _, trigger in TRANSITIONS} == set(Trigger)
    for trigger in Trigger:
        assert {TRANSITIONS[status, trigger] for status in sources(trigger)} == {target(trigger)}


def test_retry_and_replay_take_back_what_did_not_arrive() -> None:
    # The order is the one a refused retry's reason names them in.
    assert sources(Trigger.MANUAL_RETRY) == (FAILED, CANCELLED)
    assert sources(Trigger.REPLAY) == (FAILED,)


def test_attempts_and_ended_subscriptions_only_change_pending_deliveries() -> None:
    for trigger in (
        Trigger.CLAIMED,
        Trigger.LEASE_EXPIRED,
        Trigger.ATTEMPT_DELIVERED,
        Trigger.ATTEMPT_RETRY,
        Trigger.ATTEMPT_FAILED,
        Trigger.SUBSCRIPTION_ENDED,
    ):
        assert sources(trigger) == (PENDING,)
