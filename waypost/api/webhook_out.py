"""A subscription as the API shows it, from one table of its response fields.

Two renderings read ``WEBHOOK_FIELDS``: ``webhook_out`` renders a ``Subscription``
(the single webhook's GET, create, PATCH and delete), and ``listed_webhooks`` renders
the raw rows of a listing, a page at a time, without building a ``Subscription`` per
row (a speed shortcut: see the README's "Speed shortcuts"). The listing also asks the
store for its columns by the table's ``sources``, so a field added to the table is in
every response, listed or single, byte for byte the same.

The table names a field's sources by their ``Subscription`` attribute names, and the
store maps those names to columns (``Store.list_subscriptions``): what a response
shows and how is decided here, the SQL that reads it stays in ``store/``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, cast

import orjson

from waypost.domain.eventcast import format_time, format_utc_text
from waypost.domain.models import ListedSubscription, Subscription

REQUIRED: Final = object()
"""``Render.absent`` of a source that is never missing."""


@dataclass(frozen=True, kw_only=True)
class Render:
    """How a response field is made from its sources, in each of the two renderings."""

    model: Callable[..., Any] | None = None
    """From the ``Subscription``'s attribute values; ``None``: the one value as it is."""
    page: Callable[[], Callable[..., Any]] | None = None
    """Makes the function that renders one page's raw values (see
    ``Store.list_subscriptions``), made anew for each page so that the cache it may hold
    never outgrows the page; ``None``: the one raw value as it is."""
    absent: object = REQUIRED
    """The field's value when its first source is missing: ``None`` in the model, NULL
    or empty text in a raw row (only text sources may be missing)."""


AS_STORED = Render()


@dataclass(frozen=True)
class ResponseField:
    name: str
    """The key in the response."""
    sources: tuple[str, ...]
    """The ``Subscription`` attributes it is made from, which the listing reads raw."""
    render: Render = AS_STORED

    def __post_init__(self) -> None:
        if len(self.sources) != 1 and (self.render.model is None or self.render.page is None):
            raise ValueError(f"{self.name}: only a rendered field has several sources")


def _configuration_out(url: str, content_type: str, header_keys: Iterable[str]) -> dict[str, Any]:
    return {
        "url": url,
        "content_type": content_type,
        "headers": [{"key": key} for key in header_keys],
    }


def _configuration_json(url: str, content_type: str, header_keys: str) -> orjson.Fragment:
    configuration = _configuration_out(url, content_type, orjson.loads(header_keys))
    return orjson.Fragment(orjson.dumps(configuration))


def _json_value(text: str) -> orjson.Fragment:
    # Decoded and encoded again, so the bytes are those of a single webhook's response.
    return orjson.Fragment(orjson.dumps(orjson.loads(text)))


def _once_per_page(render: Callable[..., orjson.Fragment]) -> Callable[[], Callable[..., Any]]:
    """A page's rows mostly share their configuration and JSON columns, so each distinct
    value is rendered once per page and spliced into every item that has it."""
    return lambda: lru_cache(maxsize=None)(render)


def _utc_text() -> Callable[[str], str]:
    return format_utc_text


JSON_ARRAY = Render(model=list, page=_once_per_page(_json_value))
JSON_ARRAY_OR_EMPTY = Render(model=list, page=_once_per_page(_json_value), absent=())
JSON_ARRAY_OR_NULL = Render(model=list, page=_once_per_page(_json_value), absent=None)
TIME = Render(model=format_time, page=_utc_text)
TIME_OR_NULL = Render(model=format_time, page=_utc_text, absent=None)
CONFIGURATION = Render(model=_configuration_out, page=_once_per_page(_configuration_json))

WEBHOOK_FIELDS: Final = (
    ResponseField("id", ("id",)),
    ResponseField("authenticator", ("authenticator",)),
    ResponseField("configuration", ("url", "content_type", "header_keys"), CONFIGURATION),
    ResponseField("trackingId", ("tracking_id",)),
    ResponseField("event_groups", ("event_groups",), JSON_ARRAY),
    ResponseField("event_types", ("event_types",), JSON_ARRAY),
    ResponseField("filters", ("filters",), JSON_ARRAY_OR_EMPTY),
    ResponseField("fields", ("fields",), JSON_ARRAY_OR_NULL),
    ResponseField("auth_method_id", ("auth_method_id",)),
    ResponseField("success_codes", ("success_codes",)),
    ResponseField("retry_delays", ("retry_delays",), JSON_ARRAY_OR_NULL),
    ResponseField("retry_jitter", ("retry_jitter",)),
    ResponseField("require_ack", ("require_ack",)),
    ResponseField("send_traceparent", ("send_traceparent",)),
    ResponseField("created", ("created_at",), TIME),
    ResponseField("expiry", ("expires_at",), TIME_OR_NULL),
)
"""Every field of a subscription's response, in the response's order (``WebhookOut``,
its OpenAPI schema, lists the same names: a test holds them equal)."""

LISTED_SOURCES: Final = tuple(source for field in WEBHOOK_FIELDS for source in field.sources)
"""The fields a listing reads, in the order of its raw rows."""


def webhook_out(subscription: Subscription) -> dict[str, Any]:
    """The subscription as every single-webhook response shows it."""
    return {field.name: _from_model(field, subscription) for field in WEBHOOK_FIELDS}


def _from_model(field: ResponseField, subscription: Subscription) -> Any:
    values = [getattr(subscription, source) for source in field.sources]
    render = field.render
    if render.absent is not REQUIRED and values[0] is None:
        return render.absent
    return values[0] if render.model is None else render.model(*values)


def _compile_page(fields: Sequence[ResponseField]) -> Callable[..., list[dict[str, Any]]]:
    """``render(page, *converters)``: the items of a page of raw rows, written out as one
    list comprehension of dict displays, as a hand-written renderer would be.

    Generated from the table (as ``dataclasses`` makes ``__init__``) because a listing
    renders up to 150,000 rows: rendering 30,000 took 45 % more CPU with a loop over the
    table per row, and 30 % more with the columns rendered by ``map`` and each item made
    by ``dict(zip(...))``. The source holds only names made here and the keys' ``repr``;
    a missing value's replacement is a global of its own."""
    namespace: dict[str, Any] = {}
    converters: list[str] = []
    columns: list[str] = []
    items: list[str] = []
    for number, field in enumerate(fields):
        values = [f"v{len(columns) + offset}" for offset in range(len(field.sources))]
        columns += values
        if field.render.page is None:
            expression = values[0]
        else:
            converter = f"c{len(converters)}"
            converters.append(converter)
            expression = f"{converter}({', '.join(values)})"
            if field.render.absent is not REQUIRED:
                absent = f"absent{number}"
                namespace[absent] = field.render.absent
                expression = f"{expression} if {values[0]} else {absent}"
        items.append(f"{field.name!r}: {expression}")
    source = (
        f"def render(page, {''.join(name + ', ' for name in converters)}):\n"
        f"    return [{{{', '.join(items)}}} for {''.join(name + ', ' for name in columns)}"
        " in page]\n"
    )
    exec(source, namespace)
    return cast(Callable[..., list[dict[str, Any]]], namespace["render"])


_RENDER_PAGE: Final = _compile_page(WEBHOOK_FIELDS)
_PAGE_CONVERTERS: Final = tuple(
    field.render.page for field in WEBHOOK_FIELDS if field.render.page is not None
)


def listed_webhooks(page: Sequence[ListedSubscription]) -> bytes:
    """The page's items as a JSON array: ``page`` holds the raw rows of ``LISTED_SOURCES``
    (``Store.list_subscriptions``), and each item is ``webhook_out``'s, byte for byte."""
    return orjson.dumps(_RENDER_PAGE(page, *(make() for make in _PAGE_CONVERTERS)))
