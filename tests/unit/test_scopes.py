"""Which scope each route needs, decided once for the whole API."""

from __future__ import annotations

import pytest

from waypost.domain.scopes import allows, required_scope


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/services/get_undelivered_webhooks", "report_read"),
        ("GET", "/api/v1/reports/abc", "report_read"),
        ("GET", "/api/v1/webhooks", "webhooks_read"),
        ("GET", "/api/v1/deliveries/abc", "webhooks_read"),
        ("POST", "/api/v1/webhooks", "webhooks_write"),
        ("DELETE", "/api/v1/webhooks/abc", "webhooks_write"),
        ("POST", "/api/v1/deliveries/replay", "webhooks_write"),
        ("POST", "/api/v1/events", "events_write"),
        ("POST", "/api/v1/events/batch", "events_write"),
        ("POST", "/api/v1/entities/order/1", "events_write"),
        ("POST", "/api/v1/api-clients", None),
    ],
)
def test_each_route_needs_its_scope(method: str, path: str, scope: str | None) -> None:
    assert required_scope(method, path) == scope


def test_api_keys_may_do_everything_and_tokens_what_they_were_granted() -> None:
    assert allows(None, "POST", "/api/v1/api-clients") is None
    granted = frozenset({"report_read"})
    assert allows(granted, "GET", "/api/v1/reports/x") is None
    assert allows(granted, "POST", "/api/v1/events") == "events_write"
    assert allows(granted, "GET", "/api/v1/api-clients") == "API key"
