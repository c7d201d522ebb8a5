"""The Store's contract, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.support.tenants import TenantCredentials, make_tenant
from waypost.domain.keys import digest
from waypost.domain.models import (
    AttemptRecord,
    DeliveryStatus,
    Header,
    Lease,
    NewEvent,
    Subscription,
    SubscriptionSpec,
)
from waypost.domain.values import NewDelivery
from waypost.errors import Conflict, NotFound
from waypost.store import Store
from waypost.store import schema as t
from waypost.store.bulk import Bulk
from waypost.store.deliveries import EventBatch
from waypost.store.schema import metadata

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def spec(
    tracking_id: str | None = "PKG1", url: str = "http://example.com/hook"
) -> SubscriptionSpec:
    return SubscriptionSpec(
        tracking_id=tracking_id,
        url=url,
        content_type="application/json",
        headers=(Header(key="Authorization", value="Bearer top-secret"),),
        event_groups=("DELIVERED", "IN_TRANSIT"),
        event_types=(),
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        expires_at=NOW + timedelta(days=30),
    )


async def test_migrations_build_exactly_the_schema(store: Store) -> None:
    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with store.engines.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_tenant_keys_and_revocation(store: Store) -> None:
    tenant = await make_tenant(store)
    keys = await store.list_api_keys(tenant.tenant_id)
    assert [key.prefix for key in keys] == [tenant.api_key[:12]]
    principal = await store.principal_for_key(digest(tenant.api_key))
    assert principal is not None and principal.tenant_id == tenant.tenant_id
    await store.revoke_api_key(tenant_id=tenant.tenant_id, key_id=tenant.key_id, now=NOW)
    assert await store.principal_for_key(digest(tenant.api_key)) is None
    other = await make_tenant(store, "other")
    with pytest.raises(NotFound):
        await store.revoke_api_key(tenant_id=other.tenant_id, key_id=tenant.key_id, now=NOW)


async def test_duplicate_email_is_a_conflict(store: Store) -> None:
    await make_tenant(store, email="ops@example.com")
    with pytest.raises(Conflict):
        await make_tenant(store, "second", email="OPS@example.com")


async def test_subscription_secrets_are_encrypted_and_round_trip(store: Store) -> None:
    tenant = await make_tenant(store)
    [created] = await store.create_subscriptions(
        tenant_id=tenant.tenant_id, authenticator=tenant.key_id, specs=[spec()], now=NOW
    )
    async with store.engines.connect() as connection:
        raw = (
            await connection.exec_driver_sql("SELECT headers_enc, secret_enc FROM webhooks")
        ).one()
    assert "top-secret" not in raw._mapping["headers_enc"]
    assert "whsec_" not in raw._mapping["secret_enc"]
    target = await store.send_target(
        tenant_id=tenant.tenant_id, subscription_id=created.id, now=NOW
    )
    assert target.headers == (Header(key="Authorization", value="Bearer top-secret"),)
    assert target.secrets == ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",)


async def test_routing_candidates_follow_the_index(store: Store) -> None:
    tenant = await make_tenant(store)
    for specs in ([spec("PKG1"), spec("PKG2")], [spec(None, url="http://example.com/all")]):
        await store.create_subscriptions(
            tenant_id=tenant.tenant_id, authenticator=tenant.key_id, specs=specs, now=NOW
        )
    found = await store.route_candidates(
        tenant_id=tenant.tenant_id, topics={"IN_TRANSIT"}, tracking_keys={"", "PKG1"}, now=NOW
    )
    assert sorted((c.tracking_id or "") for c in found) == ["", "PKG1"]
    other = await make_tenant(store, "other")
    assert (
        await store.route_candidates(
            tenant_id=other.tenant_id, topics={"IN_TRANSIT"}, tracking_keys={""}, now=NOW
        )
        == []
    )


async def subscribed(store: Store) -> tuple[TenantCredentials, Subscription]:
    """A tenant with one subscription (``spec()``)."""
    tenant = await make_tenant(store)
    [sub] = await store.create_subscriptions(
        tenant_id=tenant.tenant_id, authenticator=tenant.key_id, specs=[spec()], now=NOW
    )
    return tenant, sub


def new_events(webhook_id: str, count: int, deliveries: int = 1) -> list[NewEvent]:
    return [
        NewEvent(
            id=str(uuid.uuid4()),
            type="IN_TRANSIT",
            tracking_id="PKG1",
            data="{}",
            idempotency_key=None,
            deliveries=tuple(
                NewDelivery(id=str(uuid.uuid4()), webhook_id=webhook_id, payload="{}")
                for _ in range(deliveries)
            ),
        )
        for _ in range(count)
    ]


async def _insert(store: Store, tenant_id: str, events: Sequence[NewEvent]) -> list[str]:
    """Store ``events`` unleased, as the intake does without a dispatcher at hand."""
    [stored] = await store.insert_group(
        batches=[EventBatch(tenant_id=tenant_id, events=events, now=NOW)], lease=None
    )
    return stored.ids


async def _one_event(store: Store, tenant_id: str, webhook_id: str, count: int = 1) -> list[str]:
    return await _insert(store, tenant_id, new_events(webhook_id, count))


async def test_idempotency_key_returns_the_first_event(store: Store) -> None:
    tenant = await make_tenant(store)

    def event(key: str) -> NewEvent:
        return NewEvent(
            id=str(uuid.uuid4()),
            type="IN_TRANSIT",
            tracking_id=None,
            data="{}",
            idempotency_key=key,
            deliveries=(),
        )

    first = await _insert(store, tenant.tenant_id, [event("k1")])
    again = await _insert(store, tenant.tenant_id, [event("k1"), event("k2"), event("k2")])
    assert again[0] == first[0]
    assert again[1] == again[2] != first[0]
    other = await make_tenant(store, "other")
    assert (await _insert(store, other.tenant_id, [event("k1")])) != first


async def test_concurrent_claims_never_share_a_delivery(store: Store) -> None:
    tenant, sub = await subscribed(store)
    await _one_event(store, tenant.tenant_id, sub.id, count=200)
    lease = NOW + timedelta(seconds=60)
    batches = await asyncio.gather(
        *[
            store.claim_due(owner=f"w{number}", limit=30, now=NOW, lease_until=lease)
            for number in range(10)
        ]
    )
    claimed = [delivery.id for batch in batches for delivery in batch]
    assert len(claimed) == len(set(claimed)) == 200
    assert await store.claim_due(owner="late", limit=10, now=NOW, lease_until=lease) == []


async def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_record(
    store: Store,
) -> None:
    tenant, sub = await subscribed(store)
    await _one_event(store, tenant.tenant_id, sub.id)
    [first] = await store.claim_due(
        owner="dead", limit=10, now=NOW, lease_until=NOW + timedelta(seconds=5)
    )
    later = NOW + timedelta(seconds=6)
    [again] = await store.claim_due(
        owner="alive", limit=10, now=later, lease_until=later + timedelta(seconds=5)
    )
    assert again.id == first.id

    def record(status: DeliveryStatus) -> AttemptRecord:
        return AttemptRecord(
            delivery_id=first.id,
            number=1,
            started_at=later,
            duration_ms=1.0,
            status_code=200 if status == DeliveryStatus.DELIVERED else 503,
            response_headers={},
            response_excerpt="",
            error=None,
            status=status,
            request_headers=(("content-type", "application/json"), ("x-token", "(set)")),
            next_attempt_at=None,
        )

    await store.record_attempts(owner="dead", records=[record(DeliveryStatus.FAILED)])
    await store.record_attempts(owner="alive", records=[record(DeliveryStatus.DELIVERED)])
    delivery, attempts = await store.get_delivery(tenant_id=tenant.tenant_id, delivery_id=first.id)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempt_count == 1
    assert [attempt.status_code for attempt in attempts] == [503, 200]
    assert attempts[0].request_headers == (
        ("content-type", "application/json"),
        ("x-token", "(set)"),
    )


async def test_a_body_equal_to_the_event_data_is_not_copied_yet_sent_and_reported(
    store: Store,
) -> None:
    tenant, sub = await subscribed(store)
    data = '{"id":7,"title":"x"}'
    bodies = {"plain": data, "selected": '{"id":7}'}
    event = NewEvent(
        id=str(uuid.uuid4()),
        type="IN_TRANSIT",
        tracking_id=None,
        data=data,
        idempotency_key=None,
        deliveries=tuple(
            NewDelivery(id=str(uuid.uuid4()), webhook_id=sub.id, payload=body)
            for body in bodies.values()
        ),
    )
    await _insert(store, tenant.tenant_id, [event])
    async with store.engines.connect() as connection:
        stored = (
            await connection.exec_driver_sql(
                "SELECT payload FROM deliveries ORDER BY payload IS NULL"
            )
        ).all()
    assert [row.payload for row in stored] == ['{"id":7}', None]
    lease = NOW + timedelta(seconds=60)
    claimed = await store.claim_due(owner="w", limit=10, now=NOW, lease_until=lease)
    assert sorted(delivery.payload for delivery in claimed) == sorted(bodies.values())
    for delivery in event.deliveries:
        assert (
            await store.delivery_payload(tenant_id=tenant.tenant_id, delivery_id=delivery.id)
            == delivery.payload
        )


@pytest.mark.parametrize(
    "moment",
    [
        NOW,
        datetime(2026, 3, 29, 1, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ],
)
async def test_bulk_inserts_store_values_exactly_as_sqlalchemy_does(
    store: Store, moment: datetime
) -> None:
    tenant = await make_tenant(store)
    row = {
        "tenant_id": tenant.tenant_id,
        "type": "IN_TRANSIT",
        "tracking_id": None,
        "data": "{}",
        "idempotency_key": None,
        "created_at": moment,
    }
    by_core, by_bulk = str(uuid.uuid4()), str(uuid.uuid4())
    statement = Bulk.insert(t.events, ["id", *row])
    async with store.engines.begin() as connection:
        await connection.execute(t.events.insert(), [{**row, "id": by_core}])
        await statement.run(connection, [{**row, "id": by_bulk}])
    async with store.engines.connect() as connection:
        stored = (
            await connection.exec_driver_sql(
                "SELECT id, tenant_id, created_at FROM events WHERE type = 'IN_TRANSIT'"
            )
        ).all()
    [core] = [r for r in stored if str(r.id).replace("-", "") == by_core.replace("-", "")]
    [bulk] = [r for r in stored if r is not core]
    assert (bulk.tenant_id, bulk.created_at) == (core.tenant_id, core.created_at)
    assert [e.created_at for e in await _events_at(store, moment)] == [moment, moment]


async def _events_at(store: Store, moment: datetime) -> list[Any]:
    async with store.engines.connect() as connection:
        query = sa.select(t.events.c.created_at).where(t.events.c.created_at == moment)
        return list(await connection.execute(query))


async def test_a_group_is_stored_leased_as_far_as_the_lease_goes(store: Store) -> None:
    tenant, sub = await subscribed(store)
    batches = [
        EventBatch(tenant_id=tenant.tenant_id, events=new_events(sub.id, 1, deliveries=2), now=NOW),
        EventBatch(tenant_id=tenant.tenant_id, events=new_events(sub.id, 2, deliveries=1), now=NOW),
    ]
    lease = Lease(owner="local", until=NOW + timedelta(seconds=60), count=3)
    first, second = await store.insert_group(batches=batches, lease=lease)
    assert first.ids == [event.id for event in batches[0].events]
    assert (len(first.leased), first.unleased, len(second.leased), second.unleased) == (2, 0, 1, 1)
    leased = {delivery.id for delivery in [*first.leased, *second.leased]}
    # Only the unleased one is due; the others are not until their lease ends, as if claimed.
    due = await store.claim_due(owner="other", limit=10, now=NOW, lease_until=NOW)
    assert len(due) == 1 and due[0].id not in leased
    later = NOW + timedelta(seconds=61)
    expired = await store.claim_due(owner="other", limit=10, now=later, lease_until=later)
    assert {delivery.id for delivery in expired} == leased | {due[0].id}


async def test_listing_reads_the_fields_asked_for_raw_and_never_a_secret(store: Store) -> None:
    tenant, sub = await subscribed(store)
    fields = ("expires_at", "id", "event_groups", "auth_method_id", "retry_delays", "created_at")
    pages = [
        page
        async for page in store.list_subscriptions(
            tenant_id=tenant.tenant_id, limit=10, now=NOW, fields=fields
        )
    ]
    [[(expires, webhook_id, groups, method, delays, created)]] = pages
    assert webhook_id == sub.id and method is None and not delays
    assert groups == '["DELIVERED","IN_TRANSIT"]'
    assert created.startswith("2026-11-01 12:00:00")
    assert expires.startswith("2026-12-01 12:00:00")
    with pytest.raises(ValueError, match="secret_enc"):
        async for _ in store.list_subscriptions(
            tenant_id=tenant.tenant_id, limit=10, now=NOW, fields=("id", "secret_enc")
        ):
            pass


async def test_deleted_subscription_is_gone_everywhere(store: Store) -> None:
    tenant, sub = await subscribed(store)
    await store.delete_subscription(tenant_id=tenant.tenant_id, subscription_id=sub.id, now=NOW)
    with pytest.raises(NotFound):
        await store.get_subscription(tenant_id=tenant.tenant_id, subscription_id=sub.id, now=NOW)
    assert await store.send_targets(subscription_ids=[sub.id], now=NOW) == {}
    assert [
        s async for s in store.iter_subscriptions(tenant_id=tenant.tenant_id, limit=10, now=NOW)
    ] == []
    recreated = await store.create_subscriptions(
        tenant_id=tenant.tenant_id, authenticator=tenant.key_id, specs=[spec()], now=NOW
    )
    assert len(recreated) == 1
