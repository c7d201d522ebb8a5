"""Building the HTTP request a subscription receives, the same for tests and deliveries."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from waypost.delivery.outbound_auth import Authenticator
from waypost.delivery.sender import OutboundRequest, RequestSender, SendResult
from waypost.domain import eventcast
from waypost.domain import headers as http_headers
from waypost.domain.catalog import EVENT_TYPES, EventType, group_members
from waypost.domain.fanout import IncomingEvent, plan
from waypost.domain.models import SendTarget, Subscription
from waypost.domain.signing import signature_headers
from waypost.domain.values import Candidate
from waypost.errors import TokenUnavailable, Unsendable

log = logging.getLogger(__name__)


def build_request(
    target: SendTarget,
    body: bytes,
    message_id: str,
    now: datetime,
    credentials: Mapping[str, str] | None = None,
    *,
    traceparent: str | None = None,
) -> OutboundRequest:
    """Content-Type, Bring's headers for Event Cast subscriptions, the subscription's static
    headers, its auth method's ``credentials``, and Standard Webhooks signature headers
    over exactly ``body``.

    ``traceparent`` (the attempt's, while tracing is on) is sent only to a subscription
    with ``send_traceparent``.

    Raises ``Unsendable`` for a header that cannot be sent (saved before the rules refused
    it): the sender would fail on it every time."""
    subscription = target.subscription
    headers = {"Content-Type": subscription.content_type}
    if subscription.tracking_id is not None:
        headers.update(eventcast.callback_headers(message_id))
    for header in target.headers:
        headers[header.key] = header.value
    headers.update(credentials or {})
    if traceparent is not None and subscription.send_traceparent:
        headers["traceparent"] = traceparent
    headers.update(signature_headers(target.secrets, message_id, int(now.timestamp()), body))
    problem = http_headers.unsendable(headers)
    if problem is not None:
        raise Unsendable(f"cannot build the request: {problem}")
    return OutboundRequest(url=subscription.url, headers=headers, body=body)


def sample_type(subscription: Subscription, custom: Mapping[str, EventType]) -> EventType:
    """The event type a test push or preview stands for: the first one subscribed to."""
    catalog = {**EVENT_TYPES, **custom}
    if subscription.event_types:
        return catalog[subscription.event_types[0]]
    group = subscription.event_groups[0]
    members = group_members(group) or tuple(t.name for t in custom.values() if t.group == group)
    return catalog[members[0]]


def candidate_of(subscription: Subscription, *, with_filters: bool = True) -> Candidate:
    filters = subscription.filters if with_filters else ()
    return Candidate(
        id=subscription.id,
        tracking_id=subscription.tracking_id,
        topics=frozenset((*subscription.event_groups, *subscription.event_types)),
        fields=subscription.fields,
        filters_text=orjson.dumps(list(filters)).decode() if filters else None,
    )


def preview(
    subscription: Subscription, event_type: EventType, data: Mapping[str, Any], now: datetime
) -> tuple[bytes, bool]:
    """The exact body ``subscription`` would receive for an event of ``event_type`` carrying
    ``data``, and whether its filters would let that event through.

    It runs the same fan-out code as ingest, so what is previewed is what is sent.
    """
    event = IncomingEvent(
        id=str(uuid.uuid4()),
        type=event_type.name,
        group=event_type.group,
        tracking_id=subscription.tracking_id,
        data=data,
        data_json=orjson.dumps(data).decode(),
        created_at=now,
    )
    matched = plan(event, [candidate_of(subscription)])
    [delivery] = matched or plan(event, [candidate_of(subscription, with_filters=False)])
    payload = delivery.payload
    if subscription.tracking_id is not None:
        payload = eventcast.with_pushed(payload, now)
    return payload.encode(), bool(matched)


def test_payload(subscription: Subscription, event_type: EventType, now: datetime) -> bytes:
    """The dummy body of a test push: Bring's callback with ``shipment: null`` for Event Cast
    subscriptions, else the subscription's preview of the type's example."""
    if subscription.tracking_id is not None:
        group = subscription.event_groups[0] if subscription.event_groups else event_type.group
        body = eventcast.test_body(
            group=group, event_id=str(uuid.uuid4()), package=subscription.tracking_id, now=now
        )
        return orjson.dumps(body)
    return preview(subscription, event_type, event_type.example_copy(), now)[0]


@dataclass(frozen=True, kw_only=True)
class PushOutcome:
    """What a test push sent and what came back. ``request`` carries secrets in its
    headers: mask them before showing it anywhere."""

    request: OutboundRequest | None
    """``None`` when the auth method's token could not be had or the request built."""
    result: SendResult | None
    error: str | None


async def send_test_push(
    sender: RequestSender,
    authenticator: Authenticator,
    target: SendTarget,
    event_type: EventType,
    now: datetime,
) -> PushOutcome:
    """Send one dummy request, with no retry (Bring: failures go unnoticed, we log them)."""
    message_id = f"test_{uuid.uuid4().hex}"
    body = test_payload(target.subscription, event_type, now)
    try:
        credentials = None
        if target.auth is not None:
            found = await authenticator.credentials(
                target.auth, delivery_id=message_id, body=body, now=now
            )
            credentials = found.headers
        request = build_request(target, body, message_id, now, credentials)
    except (TokenUnavailable, Unsendable) as exc:
        log.warning("test_push_failed webhook_id=%s error=%s", target.subscription.id, exc)
        return PushOutcome(request=None, result=None, error=str(exc))
    result = await sender.send(request)
    log.info(
        "test_push_sent webhook_id=%s status=%s error=%s duration_ms=%.1f",
        target.subscription.id,
        result.status_code,
        result.error,
        result.duration_ms,
    )
    return PushOutcome(request=request, result=result, error=result.error)
