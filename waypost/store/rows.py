"""Rows become models here, and nowhere else in the store.

Each ``as_*`` takes a row as a query returns it (by attribute; ``as_claimed`` by key)
and gives the domain's typed value: JSON columns decoded, statuses as their enums,
secrets decrypted only where the model holds them for sending. The queries choose the
columns; these functions only read them. The long listing of subscriptions is the one
exception: it hands out rows undecoded (``ListedSubscription``), for speed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from waypost.crypto import SecretBox
from waypost.domain.auth import AuthMethod, from_document
from waypost.domain.catalog import EventType, frozen
from waypost.domain.models import (
    ApiClient,
    ApiKey,
    Attempt,
    ClaimedDelivery,
    DeliveryMapping,
    DeliveryStatus,
    DeliverySummary,
    Header,
    Principal,
    SendTarget,
    StoredAuthMethod,
    StoredEvent,
    Subscription,
    Tenant,
    User,
)
from waypost.domain.reports import Report, ReportRequest, ReportStatus
from waypost.domain.values import Candidate

# Accounts


def as_tenant(row: Any) -> Tenant:
    return Tenant(id=row.id, name=row.name, created_at=row.created_at)


def as_user(row: Any) -> User:
    return User(
        id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        password_hash=row.password_hash,
        is_admin=row.is_admin,
        created_at=row.created_at,
    )


def as_api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def as_principal(row: Any) -> Principal:
    """The caller behind an API key row (its ``id``, ``tenant_id`` and ``user_id``)."""
    return Principal(tenant_id=row.tenant_id, credential_id=row.id, user_id=row.user_id)


def as_api_client(row: Any) -> ApiClient:
    return ApiClient(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        secret_digest=row.secret_digest,
        name=row.name,
        scopes=tuple(orjson.loads(row.scopes)),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


# Subscriptions and their auth methods


def as_subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        tenant_id=row.tenant_id,
        authenticator=row.authenticator,
        tracking_id=row.tracking_id,
        url=row.url,
        content_type=row.content_type,
        header_keys=tuple(orjson.loads(row.header_keys)),
        event_groups=tuple(orjson.loads(row.event_groups)),
        event_types=tuple(orjson.loads(row.event_types)),
        filters=tuple(orjson.loads(row.filters)) if row.filters else (),
        fields=tuple(orjson.loads(row.fields)) if row.fields is not None else None,
        auth_method_id=row.auth_method_id,
        success_codes=row.success_codes,
        retry_delays=tuple(orjson.loads(row.retry_delays)) if row.retry_delays else None,
        retry_jitter=row.retry_jitter,
        require_ack=row.require_ack,
        send_traceparent=row.send_traceparent,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
    )


def as_send_target(
    subscription: Subscription, row: Any, box: SecretBox, now: datetime
) -> SendTarget:
    """The subscription with the secrets of ``row`` (its encrypted columns, and its auth
    method's as ``auth_kind`` and ``auth_config_enc``) decrypted, for sending."""
    headers = tuple(
        Header(key=item["key"], value=item["value"])
        for item in orjson.loads(box.open(row.headers_enc))
    )
    secrets = [box.open(row.secret_enc)]
    if row.previous_secret_enc is not None and row.previous_secret_until > now:
        secrets.append(box.open(row.previous_secret_enc))
    auth = None
    if row.auth_config_enc is not None:
        auth = from_document(row.auth_kind, orjson.loads(box.open(row.auth_config_enc)))
    return SendTarget(subscription=subscription, headers=headers, secrets=tuple(secrets), auth=auth)


def as_auth_method(row: Any, box: SecretBox) -> AuthMethod:
    """The method with its secrets."""
    return from_document(row.kind, orjson.loads(box.open(row.config_enc)))


def as_stored_auth_method(row: Any) -> StoredAuthMethod:
    return StoredAuthMethod(
        id=row.id,
        name=row.name,
        kind=row.kind,
        public=orjson.loads(row.public),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def as_event_type(row: Any) -> EventType:
    """A tenant's own event type."""
    return EventType(
        name=row.name,
        title=row.title,
        group=row.group_name,
        description=row.description,
        example=frozen(orjson.loads(row.example)),
        schema=frozen(orjson.loads(row.schema)),
        default_fields=tuple(orjson.loads(row.default_fields)),
        trigger_on_change=row.trigger_on_change,
        trigger_entity=row.trigger_entity,
    )


# Events, deliveries and attempts


@lru_cache(maxsize=65_536)
def _parsed_fields(text: str) -> tuple[str, ...]:
    """A field list, parsed once per distinct list rather than once per event."""
    return tuple(orjson.loads(text))


def as_candidate(webhook_id: str, rows: Sequence[Any]) -> Candidate:
    """A subscription's rows of the routing index (one per topic it matched)."""
    first = rows[0]
    return Candidate(
        id=webhook_id,
        tracking_id=first.tracking_id,
        topics=frozenset(row.topic for row in rows),
        fields=_parsed_fields(first.fields) if first.fields is not None else None,
        filters_text=first.filters,
    )


def as_claimed(row: Mapping[Any, Any], event_data: Mapping[str, str]) -> ClaimedDelivery:
    """A delivery row as its dispatcher sends it; ``event_data`` holds the body of one
    that stores none."""
    return ClaimedDelivery(
        id=row["id"],
        tenant_id=row["tenant_id"],
        event_id=row["event_id"],
        webhook_id=row["webhook_id"],
        event_type=row["event_type"],
        tracking_id=row["tracking_id"],
        attempt_count=row["attempt_count"],
        payload=row["payload"] if row["payload"] is not None else event_data[row["event_id"]],
        created_at=row["created_at"],
        traceparent=row["traceparent"],
    )


def as_summary(row: Any) -> DeliverySummary:
    status = DeliveryStatus(row.status)
    return DeliverySummary(
        id=row.id,
        event_id=row.event_id,
        webhook_id=row.webhook_id,
        event_type=row.event_type,
        tracking_id=row.tracking_id,
        status=status,
        attempt_count=row.attempt_count,
        next_attempt_at=row.next_attempt_at if status == DeliveryStatus.PENDING else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
        ack_delivery_id=row.ack_delivery_id,
        ack_error_message=row.ack_error_message,
    )


def as_stored_event(row: Any, deliveries: Sequence[DeliverySummary]) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        type=row.type,
        tracking_id=row.tracking_id,
        data=row.data,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        deliveries=tuple(deliveries),
    )


def as_attempt(row: Any) -> Attempt:
    return Attempt(
        number=row.number,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        status_code=row.status_code,
        response_headers=orjson.loads(row.response_headers),
        response_excerpt=row.response_excerpt,
        error=row.error,
        request_headers=(
            tuple((name, value) for name, value in orjson.loads(row.request_headers))
            if row.request_headers is not None
            else None
        ),
    )


def as_delivery_mapping(row: Any) -> DeliveryMapping:
    return DeliveryMapping(
        tracking_id=row.order_key,
        webhook_id=row.webhook_id,
        delivery_id=row.delivery_id,
        delivery_cost=row.delivery_cost,
        green_delivery=row.green_delivery,
        fleet_extras=orjson.loads(row.fleet_extras) if row.fleet_extras else None,
        source_delivery_id=row.source_delivery_id,
        updated_at=row.updated_at,
    )


# Reports


def as_report(row: Any) -> Report:
    types = orjson.loads(row.webhook_types) if row.webhook_types is not None else None
    return Report(
        id=row.id,
        tenant_id=row.tenant_id,
        status=ReportStatus(row.status),
        request=ReportRequest(
            start=row.start_date,
            end=row.end_date,
            webhook_types=tuple(types) if types is not None else None,
            keywords=tuple(orjson.loads(row.keywords)),
        ),
        email=row.email,
        callback_url=row.callback_url,
        created_at=row.created_at,
        finished_at=row.finished_at,
        row_count=row.row_count,
        error=row.error,
        notified_at=row.notified_at,
    )
