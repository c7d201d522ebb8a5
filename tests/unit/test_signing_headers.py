"""Standard Webhooks signatures, checked with the standardwebhooks library."""

from __future__ import annotations

import base64
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from waypost.domain.signing import generate_secret, signature_headers

SECRET = generate_secret(b"k" * 32)
OLD = generate_secret(b"o" * 32)


def headers(body: bytes, *secrets: str) -> dict[str, str]:
    return signature_headers(secrets or (SECRET,), "msg_1", int(time.time()), body)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON, max_size=8))
def test_any_json_body_verifies_with_the_library(data: dict[str, object]) -> None:
    body = json.dumps(data).encode()
    assert Webhook(SECRET).verify(body, headers(body)) == data


def test_both_secrets_sign_during_a_rotation() -> None:
    signed = headers(b'{"id": 1}', SECRET, OLD)
    assert len(signed["webhook-signature"].split()) == 2
    Webhook(SECRET).verify(b'{"id": 1}', signed)
    Webhook(OLD).verify(b'{"id": 1}', signed)


def test_a_changed_body_or_timestamp_fails() -> None:
    signed = headers(b'{"id": 1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"id": 2}', signed)
    moved = {**signed, "webhook-timestamp": str(int(signed["webhook-timestamp"]) + 1)}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b'{"id": 1}', moved)


def test_secrets_are_fresh_whsec_secrets_of_32_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_") and secret != generate_secret()
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
