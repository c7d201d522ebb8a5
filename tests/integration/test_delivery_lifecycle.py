"""Every status change the store makes is one the lifecycle table allows, on both databases."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.databases import settings_for
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import make_tenant
from waypost.app import Roles
from waypost.domain.lifecycle import INITIAL, Trigger, after, allowed
from waypost.domain.models import (
    AttemptRecord,
    DeliveryStatus,
    Header,
    NewEvent,
    SubscriptionSpec,
)
from waypost.domain.values import NewDelivery
from waypost.errors import Conflict
from waypost.store import Store
from waypost.store.deliveries import EventBatch
from waypost.store.history import DeliveryFilter

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PENDING = DeliveryStatus.PENDING


def _spec() -> SubscriptionSpec:
    return SubscriptionSpec(
        tracking_id=None,
        url="http://example.com/hook",
        content_type="application/json",
        headers=(Header(key="X-Key", value="secret"),),
        event_groups=("IN_TRANSIT",),
        event_types=(),
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        expires_at=None,
    )


def _record(delivery_id: str, trigger: Trigger, at: datetime) -> AttemptRecord:
    """The attempt the dispatcher records for ``trigger``, with the table's new status."""
    status = after(PENDING, trigger)
    assert status is not None
    return AttemptRecord(
        delivery_id=delivery_id,
        number=1,
        started_at=at,
        duration_ms=1.0,
        status_code=200 if trigger == Trigger.ATTEMPT_DELIVERED else 503,
        response_headers={},
        response_excerpt="",
        error=None,
        status=status,
        request_headers=(),
        next_attempt_at=at + timedelta(seconds=60) if status == PENDING else None,
    )


async def test_every_status_change_of_the_store_is_in_the_lifecycle_table(store: Store) -> None:
    tenant = await make_tenant(store)
    tenant_id = tenant.tenant_id
    [sub] = await store.create_subscriptions(
        tenant_id=tenant_id, authenticator=tenant.key_id, specs=[_spec()], now=NOW
    )
    ids = [str(uuid.uuid4()) for _ in range(7)]
    event = NewEvent(
        id=str(uuid.uuid4()),
        type="IN_TRANSIT",
        tracking_id=None,
        data="{}",
        idempotency_key=None,
        deliveries=tuple(NewDelivery(id=id_, webhook_id=sub.id, payload="{}") for id_ in ids),
    )
    await store.insert_group(
        batches=[EventBatch(tenant_id=tenant_id, events=[event], now=NOW)], lease=None
    )

    async def status(delivery_id: str) -> DeliveryStatus:
        found, _ = await store.get_delivery(tenant_id=tenant_id, delivery_id=delivery_id)
        return found.status

    async def statuses() -> list[DeliveryStatus]:
        return [await status(delivery_id) for delivery_id in ids]

    assert await statuses() == [INITIAL] * 7

    lease = NOW + timedelta(seconds=60)
    claimed = await store.claim_due(owner="first", limit=10, now=NOW, lease_until=lease)
    assert len(claimed) == 7
    assert await statuses() == [after(PENDING, Trigger.CLAIMED)] * 7

    later = lease + timedelta(seconds=1)
    again = await store.claim_due(
        owner="second", limit=10, now=later, lease_until=later + timedelta(seconds=60)
    )
    assert len(again) == 7
    assert await statuses() == [after(PENDING, Trigger.LEASE_EXPIRED)] * 7

    attempts = {
        ids[0]: Trigger.ATTEMPT_DELIVERED,
        ids[1]: Trigger.ATTEMPT_RETRY,
        ids[2]: Trigger.ATTEMPT_FAILED,
        ids[3]: Trigger.ATTEMPT_FAILED,
    }
    await store.record_attempts(
        owner="second",
        records=[_record(id_, trigger, later) for id_, trigger in attempts.items()],
    )
    # The dispatcher cancels what it claimed for a subscription that has since ended.
    await store.cancel_deliveries(owner="second", delivery_ids=ids[4:5], reason="ended", now=later)
    await store.cancel_deliveries(owner="second", delivery_ids=ids[6:], reason="ended", now=later)
    for id_, trigger in attempts.items():
        assert await status(id_) == after(PENDING, trigger)
    assert (
        await status(ids[4]) == await status(ids[6]) == after(PENDING, Trigger.SUBSCRIPTION_ENDED)
    )

    # A manual retry: allowed exactly where the table allows it, to the table's status.
    for id_ in ids[:3] + ids[4:5]:
        current = await status(id_)
        expected = after(current, Trigger.MANUAL_RETRY)
        if expected is None:
            with pytest.raises(Conflict):
                await store.retry_delivery(tenant_id=tenant_id, delivery_id=id_, now=later)
            assert await status(id_) == current
        else:
            retried = await store.retry_delivery(tenant_id=tenant_id, delivery_id=id_, now=later)
            assert retried.status == expected

    # A replay takes what the table lets it take (ids[3], failed), and nothing else.
    before = await statuses()
    replayed = 0
    replay_at = later + timedelta(seconds=1)
    while chunk := await store.replay_chunk(
        tenant_id=tenant_id, selection=DeliveryFilter(), now=replay_at
    ):
        replayed += chunk
    after_replay = await statuses()
    assert replayed == sum(after(old, Trigger.REPLAY) is not None for old in before) == 1
    for old, new in zip(before, after_replay, strict=True):
        assert new == (after(old, Trigger.REPLAY) or old)

    # Ending the subscription cancels its waiting deliveries; one in flight (ids[5], leased)
    # is left to its sender, whose record settles it.
    before = await statuses()
    await store.delete_subscription(tenant_id=tenant_id, subscription_id=sub.id, now=replay_at)
    for index, (old, new) in enumerate(zip(before, await statuses(), strict=True)):
        if index == 5 or old != PENDING:
            assert new == old
        else:
            assert new == after(old, Trigger.SUBSCRIPTION_ENDED)


async def test_the_dashboard_offers_retry_exactly_where_the_table_allows_it(
    database_url: str,
) -> None:
    # No dispatcher: the deliveries stay as the test leaves them.
    async with serve_app(settings_for(database_url), Roles(dispatcher=False)) as app:
        await _check_retry_offers(app)


async def _check_retry_offers(app: RunningApp) -> None:
    store, client = app.store, app.client
    tenant = await app.tenant()
    [sub] = await store.create_subscriptions(
        tenant_id=tenant.tenant_id, authenticator=tenant.key_id, specs=[_spec()], now=NOW
    )
    ids = [str(uuid.uuid4()) for _ in range(4)]
    event = NewEvent(
        id=str(uuid.uuid4()),
        type="IN_TRANSIT",
        tracking_id=None,
        data="{}",
        idempotency_key=None,
        deliveries=tuple(NewDelivery(id=id_, webhook_id=sub.id, payload="{}") for id_ in ids),
    )
    await store.insert_group(
        batches=[EventBatch(tenant_id=tenant.tenant_id, events=[event], now=NOW)], lease=None
    )
    await store.claim_due(owner="test", limit=10, now=NOW, lease_until=NOW + timedelta(days=1))
    await store.record_attempts(
        owner="test",
        records=[
            _record(ids[0], Trigger.ATTEMPT_DELIVERED, NOW),
            _record(ids[1], Trigger.ATTEMPT_FAILED, NOW),
        ],
    )
    await store.cancel_deliveries(owner="test", delivery_ids=ids[2:3], reason="ended", now=NOW)

    statuses = [
        (await store.get_delivery(tenant_id=tenant.tenant_id, delivery_id=id_))[0].status
        for id_ in ids
    ]
    assert statuses == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.CANCELLED,
        PENDING,
    ]

    form = await client.get("/sign-in")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    signed_in = await client.post(
        "/sign-in",
        data={"email": tenant.email, "password": tenant.password, "csrf_token": csrf.group(1)},
    )
    assert signed_in.status_code == 303, signed_in.text
    for delivery_id in ids:
        delivery, _ = await store.get_delivery(tenant_id=tenant.tenant_id, delivery_id=delivery_id)
        page = await client.get(f"/deliveries/{delivery_id}")
        assert page.status_code == 200, page.text
        offered = f'action="/deliveries/{delivery_id}/retry"' in page.text
        assert offered is allowed(delivery.status, Trigger.MANUAL_RETRY), delivery.status
