"""Which scope each route needs, decided once for the whole API."""

from __future__ import annotations

import base64

import pytest

from waypost.domain.scopes import allows, basic_credentials, required_scope
from waypost.errors import AuthenticationFailed


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


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "Basic " + base64.b64encode(b"wpc_1:s3cret:with:colons").decode(),
            ("wpc_1", "s3cret:with:colons"),
        ),
        ("basic " + base64.b64encode("wpc_\u00e9:".encode()).decode(), ("wpc_\u00e9", "")),
        ("Bearer abc", None),
        ("", None),
    ],
)
def test_basic_credentials_are_read(header: str, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic d3BjXzE6cw== trailing",
        "Basic \u00e9\u00e9\u00e9\u00e9",
    ],
)
def test_malformed_basic_credentials_are_refused(header: str) -> None:
    with pytest.raises(AuthenticationFailed, match=r"^Authorization: Basic credentials"):
        basic_credentials(header)
