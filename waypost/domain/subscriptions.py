"""Rules for a subscription's fields that Bring's Event Cast documents, and ours beyond them."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from waypost.domain import headers as http_headers
from waypost.domain.catalog import EVENT_GROUPS, EVENT_TYPES, EventType, is_wildcard, suggest_types
from waypost.errors import ValidationFailed

MAX_URL = 250
MAX_CONTENT_TYPE = 40
MAX_HEADERS_LENGTH = 1024
MAX_TRACKING_IDS = 100
MAX_RETRY_DELAYS = 20
MAX_RETRY_DELAY_SECONDS = 7 * 24 * 3600.0


def headers_length(headers: Sequence[tuple[str, str]]) -> int:
    """Bring's "combined length of all the keys and values, including the separators".

    We read it as ``len(",".join(f"{key}:{value}" ...))``: one ``:`` per header and
    one ``,`` between headers.
    """
    return len(",".join(f"{key}:{value}" for key, value in headers))


def check_headers(headers: Sequence[tuple[str, str]], field: str = "configuration.headers") -> None:
    """Static headers as the body at ``field`` gives them: sendable, within Bring's
    length, each name once."""
    length = headers_length(headers)
    if length > MAX_HEADERS_LENGTH:
        raise ValidationFailed(
            f"{field}: combined length of keys and values with separators is "
            f"{length}, at most {MAX_HEADERS_LENGTH} allowed"
        )
    seen: set[str] = set()
    for index, (key, value) in enumerate(headers):
        http_headers.check_header(f"{field}[{index}]", key, value)
        if key.lower() in seen:
            raise ValidationFailed(f"{field}[{index}].key: duplicate header {key!r}")
        seen.add(key.lower())


def check_event_groups(
    groups: Sequence[str], custom: Collection[EventType] = ()
) -> tuple[str, ...]:
    """Known groups: the catalog's and those of the tenant's own types (``custom``)."""
    custom_groups = {event_type.group for event_type in custom}
    for index, group in enumerate(groups):
        if is_wildcard(group):
            raise ValidationFailed(
                f"event_groups[{index}]: wildcards like * and ALL are not supported; "
                "name the groups"
            )
        if group not in EVENT_GROUPS and group not in custom_groups:
            raise ValidationFailed(
                f"event_groups[{index}]: unknown event group {group!r} "
                f"(known: {', '.join(sorted(EVENT_GROUPS))})"
            )
    return tuple(dict.fromkeys(groups))


def check_event_types(names: Sequence[str], custom: Collection[EventType] = ()) -> tuple[str, ...]:
    custom_names = {event_type.name for event_type in custom}
    for index, name in enumerate(names):
        if name not in EVENT_TYPES and name not in custom_names:
            hint = ", ".join(suggest_types(name))
            raise ValidationFailed(
                f"event_types[{index}]: unknown event type {name!r}"
                + (f" (did you mean: {hint})" if hint else "")
            )
    return tuple(dict.fromkeys(names))


def check_retry_delays(delays: Sequence[float]) -> tuple[float, ...]:
    if len(delays) > MAX_RETRY_DELAYS:
        raise ValidationFailed(f"retry_delays: at most {MAX_RETRY_DELAYS} retries")
    for index, delay in enumerate(delays):
        if not 0 <= delay <= MAX_RETRY_DELAY_SECONDS:
            raise ValidationFailed(
                f"retry_delays[{index}]: must be between 0 and {MAX_RETRY_DELAY_SECONDS:.0f} s"
            )
    return tuple(float(delay) for delay in delays)
