"""The delivery lifecycle: which status a delivery may go to, from which, and on what.

Every delivery is stored ``pending`` and due at once. From there::

    pending ──claimed / lease expired / attempt retried──▶ pending
    pending ──attempt delivered──▶ delivered
    pending ──attempt failed─────▶ failed      (not retried, or the last retry)
    pending ──subscription ended─▶ cancelled   (deleted, expired, or ended by Event Cast's
                                                 delivered terminal event)
    failed, cancelled ──manual retry──▶ pending (one delivery, by id)
    failed ──replay──▶ pending                  (every failed delivery a filter selects)

``delivered`` is final. A claim leases a pending delivery without changing its status:
while the lease lasts no other dispatcher takes it, and when it ends unrecorded the
delivery is simply due again. ``TRANSITIONS`` is the one list of these rules; the code
that makes each change (mostly SQL in ``store/``) is checked against it by the store's
contract tests, and code that decides whether a change is allowed asks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from waypost.domain.models import DeliveryStatus

PENDING = DeliveryStatus.PENDING
DELIVERED = DeliveryStatus.DELIVERED
FAILED = DeliveryStatus.FAILED
CANCELLED = DeliveryStatus.CANCELLED


class Trigger(StrEnum):
    """What happens to a delivery."""

    CLAIMED = "claimed"
    """A dispatcher leased it to send it (or ingest handed it to its own dispatcher)."""
    LEASE_EXPIRED = "lease_expired"
    """Its dispatcher died or stalled: the delivery is due again."""
    ATTEMPT_DELIVERED = "attempt_delivered"
    ATTEMPT_RETRY = "attempt_retry"
    """The attempt failed and a retry is scheduled."""
    ATTEMPT_FAILED = "attempt_failed"
    """The attempt failed and is not retried, or was the last retry."""
    SUBSCRIPTION_ENDED = "subscription_ended"
    """Its subscription was deleted, expired, or ended by a delivered terminal event."""
    MANUAL_RETRY = "manual_retry"
    """A user retried this one delivery."""
    REPLAY = "replay"
    """A user replayed the failed deliveries of a selection."""


INITIAL = PENDING
"""The status of a delivery when it is stored."""

TRANSITIONS: Mapping[tuple[DeliveryStatus, Trigger], DeliveryStatus] = MappingProxyType(
    {
        (PENDING, Trigger.CLAIMED): PENDING,
        (PENDING, Trigger.LEASE_EXPIRED): PENDING,
        (PENDING, Trigger.ATTEMPT_DELIVERED): DELIVERED,
        (PENDING, Trigger.ATTEMPT_RETRY): PENDING,
        (PENDING, Trigger.ATTEMPT_FAILED): FAILED,
        (PENDING, Trigger.SUBSCRIPTION_ENDED): CANCELLED,
        # In this order: the reasons given for refusing a retry name them so.
        (FAILED, Trigger.MANUAL_RETRY): PENDING,
        (CANCELLED, Trigger.MANUAL_RETRY): PENDING,
        (FAILED, Trigger.REPLAY): PENDING,
    }
)
"""``(status, trigger) -> new status``; a pair not listed is not allowed."""


def after(status: DeliveryStatus, trigger: Trigger) -> DeliveryStatus | None:
    """The status ``trigger`` takes a delivery in ``status`` to; ``None`` if it may not."""
    return TRANSITIONS.get((status, trigger))


def allowed(status: DeliveryStatus, trigger: Trigger) -> bool:
    return (status, trigger) in TRANSITIONS


def sources(trigger: Trigger) -> tuple[DeliveryStatus, ...]:
    """The statuses ``trigger`` applies to, in the table's order."""
    return tuple(status for status, event in TRANSITIONS if event == trigger)


def target(trigger: Trigger) -> DeliveryStatus:
    """The one status ``trigger`` leads to, from whichever status it applies to."""
    (found,) = {new for (_, event), new in TRANSITIONS.items() if event == trigger}
    return found
