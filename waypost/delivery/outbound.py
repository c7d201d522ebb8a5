"""Building the HTTP request a subscription receives, the same for tests and deliveries."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import orjson

from waypost.delivery.sender import OutboundRequest, Sender
from waypost.domain import eventcast
from waypost.domain.catalog import EVENT_TYPES, group_members
from waypost.domain.payload import compile_selection
from waypost.domain.signing import signature_headers
from waypost.store.models import SendTarget, Subscription

log = logging.getLogger(__name__)


def build_request(
    target: SendTarget, body: bytes, message_id: str, now: datetime
) -> OutboundRequest:
    """Content-Type, the subscription's static headers, Bring's headers for Event Cast
    subscriptions, and Standard Webhooks signature headers over exactly ``body``."""
    subscription = target.subscription
    headers = {"Content-Type": subscription.content_type}
    if subscription.tracking_id is not None:
        headers.update(eventcast.callback_headers(message_id))
    for header in target.headers:
        headers[header.key] = header.value
    headers.update(signature_headers(target.secrets, message_id, int(now.timestamp()), body))
    return OutboundRequest(url=subscription.url, headers=headers, body=body)


def _sample_type(subscription: Subscription) -> str:
    if subscription.event_types:
        return subscription.event_types[0]
    return group_members(subscription.event_groups[0])[0]


def test_payload(subscription: Subscription, now: datetime) -> bytes:
    """The dummy body of a test push: Bring's callback with ``shipment: null`` for Event Cast
    subscriptions, else the catalog example of the subscribed type, shaped by its fields."""
    event_id = str(uuid.uuid4())
    if subscription.tracking_id is not None:
        group = subscription.event_groups[0] if subscription.event_groups else "IN_TRANSIT"
        body = eventcast.test_body(
            group=group, event_id=event_id, package=subscription.tracking_id, now=now
        )
        return orjson.dumps(body)
    example = dict(EVENT_TYPES[_sample_type(subscription)].example)
    if subscription.fields is not None:
        example = compile_selection(subscription.fields).apply(example)
    return orjson.dumps(example)


async def send_test_push(sender: Sender, target: SendTarget, now: datetime) -> None:
    """Send one dummy request, with no retry (Bring: failures go unnoticed, we log them)."""
    message_id = f"test_{uuid.uuid4().hex}"
    request = build_request(target, test_payload(target.subscription, now), message_id, now)
    result = await sender.send(request)
    log.info(
        "test_push_sent webhook_id=%s status=%s error=%s duration_ms=%.1f",
        target.subscription.id,
        result.status_code,
        result.error,
        result.duration_ms,
    )
