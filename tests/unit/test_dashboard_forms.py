"""Pure pieces of the dashboard's forms: CSRF tokens, masking, the Add Webhook form."""

from __future__ import annotations

from waypost.domain.csrf import csrf_token, csrf_valid
from waypost.domain.masking import MASK, masked_headers
from waypost.web.webhook_form import (
    MAX_URLS,
    UrlEntry,
    WebhookForm,
    auth_method_body,
    read_form,
    subscription_body,
    with_another_url,
)

KEY = b"k" * 32


def test_csrf_token_is_bound_to_its_cookie() -> None:
    token = csrf_token(KEY, "session-a")
    assert csrf_valid(KEY, "session-a", token)
    assert not csrf_valid(KEY, "session-b", token)
    assert not csrf_valid(b"other" * 8, "session-a", token)
    assert not csrf_valid(KEY, "session-a", token[:-1] + "0" if token[-1] != "0" else "1")
    assert not csrf_valid(KEY, None, token)
    assert not csrf_valid(KEY, "session-a", None)
    assert not csrf_valid(KEY, "", csrf_token(KEY, ""))


def test_only_public_headers_keep_their_values() -> None:
    shown = masked_headers(
        {
            "Content-Type": "application/json",
            "Authorization": "Bearer secret",
            "X-Api-Key": "secret",
            "webhook-id": "d-1",
            "webhook-signature": "v1,abc",
        }
    )
    assert shown == [
        ("Content-Type", "application/json"),
        ("Authorization", MASK),
        ("X-Api-Key", MASK),
        ("webhook-id", "d-1"),
        ("webhook-signature", MASK),
    ]


POSTED = {
    "event_type": "task_created",
    "url_count": "2",
    "url_0": " https://a.example/hook ",
    "auth_0": "static",
    "header_key_0": "Authorization",
    "header_value_0": "Bearer s3cret",
    "url_1": "https://b.example/hook",
    "auth_1": "oauth2",
    "oauth_client_id_1": "waypost",
    "oauth_client_secret_1": "client-s3cret",
    "oauth_auth_url_1": "https://auth.example",
    "filter_field": "fleet_id",
    "filter_value": "2899",
    "flexible": "on",
}


def test_read_form_and_build_the_api_bodies() -> None:
    form = read_form(POSTED, ["id", "customer.name"])
    assert [entry.get("url") for entry in form.entries] == [
        "https://a.example/hook",
        "https://b.example/hook",
    ]
    first, second = form.entries
    assert subscription_body(form, first) == {
        "configuration": {
            "url": "https://a.example/hook",
            "headers": [{"key": "Authorization", "value": "Bearer s3cret"}],
        },
        "event_types": ["task_created"],
        "filters": [{"field": "fleet_id", "op": "eq", "value": "2899"}],
        "fields": ["id", "customer.name"],
    }
    assert auth_method_body(form, first) is None
    method = auth_method_body(form, second)
    assert method is not None
    assert method["name"].startswith("task_created b.example ")
    assert {k: method[k] for k in ("type", "client_id", "client_secret", "path")} == {
        "type": "oauth2",
        "client_id": "waypost",
        "client_secret": "client-s3cret",
        "path": "/oauth/token",
    }


def test_secrets_are_never_shown_back() -> None:
    form = read_form(POSTED, [])
    first, second = form.entries
    assert first.shown("header_value") == ""
    assert first.shown("header_key") == "Authorization"
    assert second.shown("oauth_client_secret") == ""
    assert second.shown("oauth_client_id") == "waypost"


def test_add_url_appends_an_empty_endpoint_up_to_the_limit() -> None:
    form = read_form({"event_type": "task_created", "url_count": "1"}, [])
    grown = with_another_url(form)
    assert len(grown.entries) == 2
    assert grown.entries[1] == UrlEntry()
    full = WebhookForm(event_type="x", entries=(UrlEntry(),) * MAX_URLS)
    assert with_another_url(full) is full
    assert len(read_form({"url_count": "999"}, []).entries) == MAX_URLS
    assert len(read_form({"url_count": "nope"}, []).entries) == 1


def test_an_unknown_auth_kind_counts_as_none() -> None:
    entry = UrlEntry(values={"auth": "kerberos", "url": "https://a.example"})
    assert entry.auth == "none"
