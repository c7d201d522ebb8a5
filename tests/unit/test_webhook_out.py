"""One table of a subscription's response fields, rendered from a model and from raw rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from waypost.api.webhook_out import (
    LISTED_SOURCES,
    WEBHOOK_FIELDS,
    ResponseField,
    _compile_page,
    listed_webhooks,
    webhook_out,
)
from waypost.api.webhooks import WebhookOut
from waypost.domain.models import Subscription

CREATED = datetime(2026, 11, 23, 14, 42, 1, 123456, tzinfo=UTC)

BASE = Subscription(
    id="0190f2c4-1234-7abc-8def-000000000001",
    tenant_id="0190f2c4-1234-7abc-8def-0000000000aa",
    authenticator="0190f2c4-1234-7abc-8def-0000000000bb",
    tracking_id="PKG1",
    url="https://example.com/hook?a=1&b=é",
    content_type="application/json",
    header_keys=("Authorization", "x-company"),
    event_groups=("DELIVERED", "IN_TRANSIT"),
    event_types=(),
    filters=(),
    fields=None,
    auth_method_id=None,
    success_codes="200",
    retry_delays=None,
    retry_jitter=0.0,
    require_ack=False,
    created_at=CREATED,
    expires_at=None,
    ended_at=None,
)

VARIANTS = [
    BASE,
    replace(
        BASE,
        tracking_id='Ø-ünïcode "quoted"',
        header_keys=(),
        event_groups=(),
        event_types=("task_created", "task_assigned_to_dp"),
        filters=({"field": "fleet_id", "op": "eq", "value": 2899.5},),
        fields=("id", "customer.name"),
        auth_method_id="0190f2c4-1234-7abc-8def-0000000000cc",
        success_codes="2xx",
        retry_delays=(0.5, 30.0, 3600.0),
        retry_jitter=0.25,
        require_ack=True,
        expires_at=datetime(2026, 12, 23, 14, 42, 1, tzinfo=UTC),
    ),
    replace(BASE, tracking_id=None, fields=(), retry_delays=()),
]


def raw(value: Any) -> Any:
    """A value as the store's listing reads it: JSON as text, times as UTC text."""
    if isinstance(value, tuple):
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def raw_row(subscription: Subscription) -> tuple[Any, ...]:
    return tuple(raw(getattr(subscription, source)) for source in LISTED_SOURCES)


def singles(subscriptions: list[Subscription]) -> bytes:
    return b"[" + b",".join(orjson.dumps(webhook_out(s)) for s in subscriptions) + b"]"


def test_the_response_schema_names_the_table_fields_in_order() -> None:
    assert list(WebhookOut.model_fields) == [field.name for field in WEBHOOK_FIELDS]


def test_a_listed_item_is_the_single_response_byte_for_byte() -> None:
    assert listed_webhooks([raw_row(s) for s in VARIANTS]) == singles(VARIANTS)


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_json_columns_render_as_the_model_does(missing: str | None) -> None:
    row = list(raw_row(BASE))
    for source in ("filters", "fields", "retry_delays"):
        row[LISTED_SOURCES.index(source)] = missing
    assert listed_webhooks([tuple(row)]) == singles([BASE])
    assert orjson.loads(singles([BASE]))[0]["filters"] == []


def test_a_page_renders_every_field_of_its_table_in_order() -> None:
    table = (*WEBHOOK_FIELDS, ResponseField("tenant", ("tenant_id",)))
    converters = [field.render.page for field in table if field.render.page is not None]
    [item] = _compile_page(table)([(*raw_row(BASE), "t1")], *(make() for make in converters))
    assert list(item) == [field.name for field in table]
    assert item["tenant"] == "t1"


def test_several_sources_need_a_rendering_of_their_own() -> None:
    with pytest.raises(ValueError, match="several sources"):
        ResponseField("configuration", ("url", "content_type"))
