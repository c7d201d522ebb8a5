"""Outbound auth decisions without I/O: JWTs per attempt, OAuth2 token requests and reuse."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from waypost.domain.auth import (
    JwtMethod,
    OAuth2Method,
    check_jwt,
    check_oauth2,
    jwt_header,
    public_view,
    token_lifetime,
    token_request,
)
from waypost.errors import ValidationFailed

NOW = datetime.now(UTC)
KEY = "k" * 64
BODY = b'{"id": 2859}'


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_shared_key_tokens_verify_and_bind_the_body(algorithm: str) -> None:
    method = check_jwt(JwtMethod(algorithm=algorithm, key=KEY, audience="tms"))  # type: ignore[arg-type]
    name, value = jwt_header(method, delivery_id="d-1", body=BODY, now=NOW)
    assert name == "Authorization" and value.startswith("Bearer ")
    claims = jwt.decode(
        value.removeprefix("Bearer "),
        KEY,
        algorithms=[algorithm],
        audience="tms",
        options={"verify_exp": False},
    )
    assert claims["body_sha256"] == hashlib.sha256(BODY).hexdigest()
    assert (claims["webhook_id"], claims["exp"] - claims["iat"]) == ("d-1", 20160 * 60)


def test_es256_with_a_pem_key_and_a_fresh_jti_each_time() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    method = check_jwt(JwtMethod(algorithm="ES256", key=pem, header="X-Token", prefix=""))
    tokens = [jwt_header(method, delivery_id="d", body=BODY, now=NOW)[1] for _ in range(2)]
    claims = [
        jwt.decode(t, private.public_key(), algorithms=["ES256"], options={"verify_exp": False})
        for t in tokens
    ]
    assert claims[0]["jti"] != claims[1]["jti"]


def test_keys_that_cannot_sign_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed, match=r"signature\.key"):
        check_jwt(JwtMethod(algorithm="HS256", key="short"))
    with pytest.raises(ValidationFailed, match="private_key"):
        check_jwt(JwtMethod(algorithm="RS256", key="not a pem"))
    with pytest.raises(ValidationFailed, match="base64"):
        check_jwt(JwtMethod(algorithm="HS256", key="%%%", key_is_base64=True))
    encoded = base64.b64encode(KEY.encode()).decode()
    check_jwt(JwtMethod(algorithm="HS256", key=encoded, key_is_base64=True))


@pytest.mark.parametrize(
    ("header", "prefix", "reason"),
    [
        ("X Token", "Bearer", "header: must be an HTTP token"),
        ("Authorization\r\nX-Injected", "Bearer", "header: must be an HTTP token"),
        ("Authorization", "Bearer\r\nX-Injected: 1", "prefix: must not contain control"),
        ("Authorization", "Bearer\x00", "prefix: must not contain control characters"),
    ],
)
def test_header_names_and_prefixes_that_cannot_be_sent_are_refused(
    header: str, prefix: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_jwt(JwtMethod(algorithm="HS256", key=KEY, header=header, prefix=prefix))
    assert refused.value.reason.startswith(reason)
    check_jwt(JwtMethod(algorithm="HS256", key=KEY, header="X-Token", prefix="JWT\t"))


def test_a_stored_key_that_cannot_sign_fails_signing_naming_the_field() -> None:
    """A key saved before it was checked: signing says which field, and no secret."""
    with pytest.raises(ValidationFailed) as refused:
        jwt_header(
            JwtMethod(algorithm="RS256", key="not-a-pem-secret"),
            delivery_id="d",
            body=BODY,
            now=NOW,
        )
    assert refused.value.reason.startswith("private_key: cannot sign RS256 with it")
    assert "not-a-pem-secret" not in refused.value.reason


METHOD = OAuth2Method(
    client_id="waypost",
    client_secret="s3cret",
    auth_url="https://auth.example.com/",
    path="oauth/token",
    scope="webhooks",
    headers=(("X-Tenant", "acme"),),
)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ((("X-Tenant", "acme"), ("X Bad", "v")), "headers[1].key: must be an HTTP token"),
        ((("X-Tenant", "ac\nme"),), "headers[0].value: must not contain control characters"),
    ],
)
def test_oauth2_headers_that_cannot_be_sent_are_refused(
    headers: tuple[tuple[str, str], ...], reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_oauth2(OAuth2Method(**{**METHOD.__dict__, "headers": headers}), allow_private=False)
    assert refused.value.reason.startswith(reason)
    assert "acme" not in refused.value.reason
    check_oauth2(METHOD, allow_private=False)


def test_token_requests_in_each_encoding() -> None:
    form = token_request(METHOD)
    assert form.url == "https://auth.example.com/oauth/token"
    assert parse_qs(form.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["webhooks"],
        "client_id": ["waypost"],
        "client_secret": ["s3cret"],
    }
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    as_json = token_request(OAuth2Method(**{**METHOD.__dict__, "request_type": "json"}))
    assert json.loads(as_json.body)["client_id"] == "waypost"
    query = token_request(OAuth2Method(**{**METHOD.__dict__, "request_type": "query"}))
    assert query.body == b"" and parse_qs(urlsplit(query.url).query)["scope"] == ["webhooks"]
    basic = token_request(OAuth2Method(**{**METHOD.__dict__, "client_auth": "basic"}))
    assert "client_secret" not in basic.body.decode()
    assert basic.headers["Authorization"] == "Basic " + base64.b64encode(b"waypost:s3cret").decode()


def test_tokens_are_reused_until_shortly_before_they_expire() -> None:
    assert token_lifetime(3600) == 3570.0
    assert token_lifetime(10) == 9.0
    assert token_lifetime(None) == 300.0
    assert token_lifetime("3600") == 300.0


def test_the_public_view_holds_no_secret() -> None:
    view = public_view(METHOD)
    assert "s3cret" not in json.dumps(view) and "acme" not in json.dumps(view)
    assert view["headers"] == [{"key": "X-Tenant"}]
