"""The dashboard's store queries, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.support.tenants import make_tenant
from waypost.delivery.intake import Intake
from waypost.domain.models import AttemptRecord, DeliveryStatus, NewEvent, SubscriptionSpec
from waypost.domain.values import NewDelivery
from waypost.store import Store
from waypost.store.dashboard import EndpointHealth, FailureCount, MinuteCount

NOW = datetime(2026, 11, 1, 12, 0, 30, tzinfo=UTC)
MINUTE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _spec(url: str) -> SubscriptionSpec:
    return SubscriptionSpec(
        tracking_id=None,
        url=url,
        content_type="application/json",
        headers=(),
        event_groups=(),
        event_types=("task_created",),
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        expires_at=None,
    )


async def _finish(
    store: Store,
    tenant_id: str,
    webhook_id: str,
    outcomes: list[tuple[timedelta, DeliveryStatus, int | None, str | None]],
) -> list[str]:
    """One delivery per outcome, finished ``offset`` after ``NOW`` as it says."""
    ids = [str(uuid.uuid4()) for _ in outcomes]
    events = [
        NewEvent(
            id=str(uuid.uuid4()),
            type="task_created",
            tracking_id=None,
            data="{}",
            idempotency_key=None,
            deliveries=(NewDelivery(id=delivery_id, webhook_id=webhook_id, payload='{"n":1}'),),
        )
        for delivery_id in ids
    ]
    await Intake(store).ingest(tenant_id=tenant_id, events=events, now=NOW - timedelta(hours=2))
    await store.claim_due(owner="w", limit=100, now=NOW, lease_until=NOW + timedelta(hours=1))
    await store.record_attempts(
        owner="w",
        records=[
            AttemptRecord(
                delivery_id=delivery_id,
                number=1,
                started_at=NOW + offset,
                duration_ms=1.0,
                status_code=code,
                response_headers={},
                response_excerpt="",
                error=error,
                status=status,
                request_headers=(),
                next_attempt_at=None,
            )
            for delivery_id, (offset, status, code, error) in zip(ids, outcomes, strict=True)
        ],
    )
    return ids


async def test_health_activity_and_failures_over_a_window(store: Store) -> None:
    tenant = await make_tenant(store)
    carrier, erp = [
        (
            await store.create_subscriptions(
                tenant_id=tenant.tenant_id,
                authenticator=tenant.key_id,
                specs=[_spec(url)],
                now=NOW - timedelta(hours=3),
            )
        )[0]
        for url in ("http://carrier.example/hook", "http://erp.example/hook")
    ]
    delivered, failed = DeliveryStatus.DELIVERED, DeliveryStatus.FAILED
    minute = timedelta(minutes=1)
    ids = await _finish(
        store,
        tenant.tenant_id,
        carrier.id,
        [
            (timedelta(0), delivered, 200, None),
            (minute, delivered, 200, None),
            (minute, failed, 404, "HTTP 404 is not retried"),
            (-timedelta(days=2), failed, 500, "too old to count"),
        ],
    )
    await _finish(
        store,
        tenant.tenant_id,
        erp.id,
        [
            (2 * minute, failed, None, "timeout"),
            (2 * minute + timedelta(seconds=5), failed, None, "later"),
        ],
    )
    since = NOW - timedelta(hours=24)

    health = await store.endpoint_health(tenant_id=tenant.tenant_id, since=since)
    assert health[carrier.id] == EndpointHealth(
        delivered=2,
        failed=1,
        last_error="HTTP 404 is not retried",
        last_error_at=NOW + minute,
    )
    assert health[erp.id].failed == 2
    assert health[erp.id].last_error == "later"

    assert await store.deliveries_per_minute(tenant_id=tenant.tenant_id, since=since) == [
        MinuteCount(minute=MINUTE, delivered=1, failed=0),
        MinuteCount(minute=MINUTE + minute, delivered=1, failed=1),
        MinuteCount(minute=MINUTE + 2 * minute, delivered=0, failed=2),
    ]
    assert await store.failures_by_endpoint(tenant_id=tenant.tenant_id, since=since) == [
        FailureCount(label="http://erp.example/hook", count=2),
        FailureCount(label="http://carrier.example/hook", count=1),
    ]
    assert await store.failures_by_status(tenant_id=tenant.tenant_id, since=since) == [
        (None, 2),
        (404, 1),
    ]
    payload = await store.delivery_payload(tenant_id=tenant.tenant_id, delivery_id=ids[0])
    assert payload == '{"n":1}'

    other = await make_tenant(store, "other")
    assert await store.endpoint_health(tenant_id=other.tenant_id, since=since) == {}
    assert await store.deliveries_per_minute(tenant_id=other.tenant_id, since=since) == []
    assert await store.failures_by_endpoint(tenant_id=other.tenant_id, since=since) == []


async def test_a_user_is_found_only_in_its_tenant(store: Store) -> None:
    tenant = await make_tenant(store)
    other = await make_tenant(store, "other")
    user = await store.user_by_email(tenant.email)
    assert user is not None
    assert await store.user_by_id(tenant_id=tenant.tenant_id, user_id=user.id) == user
    assert await store.user_by_id(tenant_id=other.tenant_id, user_id=user.id) is None
    assert await store.user_by_id(tenant_id=tenant.tenant_id, user_id="not-an-id") is None
