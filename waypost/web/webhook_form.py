"""The "Add Webhook" form: one event, several URLs, each with its own authorization.

Reading the posted fields and turning them into the API's request bodies needs
no I/O, so it is tested without a server. Secret fields are read, never echoed
back into a re-rendered form.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from waypost.domain.urls import parse_url

AUTH_KINDS = {
    "none": "None",
    "static": "Static headers",
    "jwt": "JSON Web Token (JWT)",
    "oauth2": "OAuth2.0",
}
JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
REQUEST_TYPES = ("form", "json", "query")
MAX_URLS = 10
SECRET_FIELDS = frozenset({"header_value", "jwt_key", "oauth_client_secret"})
ENTRY_FIELDS = (
    "url",
    "auth",
    "header_key",
    "header_value",
    "jwt_algorithm",
    "jwt_key",
    "jwt_key_type",
    "jwt_issuer",
    "jwt_audience",
    "jwt_subject",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_auth_url",
    "oauth_path",
    "oauth_request_type",
    "oauth_scope",
)
DEFAULTS = {
    "auth": "none",
    "header_key": "Authorization",
    "jwt_algorithm": "HS256",
    "jwt_key_type": "raw",
    "oauth_path": "/oauth/token",
    "oauth_request_type": "form",
}


@dataclass(frozen=True, kw_only=True)
class UrlEntry:
    """One endpoint of the form: its URL and authorization fields, by name."""

    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "") or DEFAULTS.get(name, "")

    def shown(self, name: str) -> str:
        """The value to put back in a re-rendered form: never a secret."""
        return "" if name in SECRET_FIELDS else self.get(name)

    def optional(self, name: str) -> str | None:
        return self.get(name) or None

    @property
    def auth(self) -> str:
        kind = self.get("auth")
        return kind if kind in AUTH_KINDS else "none"


@dataclass(frozen=True, kw_only=True)
class WebhookForm:
    event_type: str
    entries: tuple[UrlEntry, ...]
    filter_field: str = ""
    filter_value: str = ""
    flexible: bool = False
    fields: tuple[str, ...] = ()


def read_form(form: Mapping[str, str], fields: list[str]) -> WebhookForm:
    """The form's values; ``fields`` are the checked "Enable Flexible Webhook" boxes."""
    try:
        count = int(form.get("url_count", "1"))
    except ValueError:
        count = 1
    count = max(1, min(count, MAX_URLS))
    entries = tuple(
        UrlEntry(values={name: form.get(f"{name}_{index}", "").strip() for name in ENTRY_FIELDS})
        for index in range(count)
    )
    return WebhookForm(
        event_type=form.get("event_type", "").strip(),
        entries=entries,
        filter_field=form.get("filter_field", "").strip(),
        filter_value=form.get("filter_value", "").strip(),
        flexible=form.get("flexible") == "on",
        fields=tuple(fields),
    )


def with_another_url(form: WebhookForm) -> WebhookForm:
    """ "Add URL": the same form with one more, empty endpoint (at most ``MAX_URLS``)."""
    if len(form.entries) >= MAX_URLS:
        return form
    return WebhookForm(
        event_type=form.event_type,
        entries=(*form.entries, UrlEntry()),
        filter_field=form.filter_field,
        filter_value=form.filter_value,
        flexible=form.flexible,
        fields=form.fields,
    )


def subscription_body(form: WebhookForm, entry: UrlEntry) -> dict[str, Any]:
    """The ``POST /api/v1/webhooks`` body of one endpoint, without its auth method id."""
    headers = []
    if entry.auth == "static" and entry.get("header_key"):
        headers.append({"key": entry.get("header_key"), "value": entry.get("header_value")})
    body: dict[str, Any] = {
        "configuration": {"url": entry.get("url"), "headers": headers},
        "event_types": [form.event_type],
    }
    if form.filter_field:
        body["filters"] = [{"field": form.filter_field, "op": "eq", "value": form.filter_value}]
    if form.flexible:
        body["fields"] = list(form.fields)
    return body


def auth_method_body(form: WebhookForm, entry: UrlEntry) -> dict[str, Any] | None:
    """The ``POST /api/v1/auth-methods`` body of one endpoint's JWT or OAuth2 settings."""
    try:
        host = parse_url(entry.get("url")).host
    except ValueError:
        host = "endpoint"
    # Method names are unique per tenant; the suffix keeps re-adding an endpoint possible.
    name = f"{form.event_type} {host} {secrets.token_hex(3)}"
    optional = entry.optional
    if entry.auth == "jwt":
        return {
            "name": name,
            "type": "jwt",
            "algorithm": entry.get("jwt_algorithm"),
            "signature": {"key": entry.get("jwt_key"), "type": entry.get("jwt_key_type")},
            "issuer": optional("jwt_issuer"),
            "audience": optional("jwt_audience"),
            "subject": optional("jwt_subject"),
        }
    if entry.auth == "oauth2":
        return {
            "name": name,
            "type": "oauth2",
            "client_id": entry.get("oauth_client_id"),
            "client_secret": entry.get("oauth_client_secret"),
            "auth_url": entry.get("oauth_auth_url"),
            "path": entry.get("oauth_path"),
            "request_type": entry.get("oauth_request_type"),
            "scope": optional("oauth_scope"),
        }
    return None
