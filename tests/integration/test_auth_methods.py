"""Outbound authentication over real sockets: JWTs checked with PyJWT, OAuth2 against a real
authlib token server, and secrets that never come back. Both databases."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.test_events_api import post_event, settled, subscribe
from tests.integration.test_webhooks_api import assert_error
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningApp
from tests.support.tenants import TenantCredentials

SHARED_KEY = b"a-shared-key-of-at-least-32-bytes!!"
CLIENT_SECRET = "client-secret-never-shown-7731"


@pytest.fixture
async def receiver() -> Any:
    async with Receiver() as started:
        yield started


def rsa_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return pem, public


async def create_method(app: RunningApp, tenant: TenantCredentials, **body: Any) -> dict[str, Any]:
    response = await app.client.post("/api/v1/auth-methods", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def bearer(request_header: str | None) -> str:
    assert request_header is not None and request_header.startswith("Bearer ")
    return request_header.removeprefix("Bearer ")


async def test_jwt_per_attempt_verifies_with_pyjwt(
    running_app: RunningApp, receiver: Receiver
) -> None:
    tenant = await running_app.tenant()
    private_pem, public_pem = rsa_pair()
    hs = await create_method(
        running_app,
        tenant,
        name="carrier-hs",
        type="jwt",
        algorithm="HS256",
        signature={"key": base64.b64encode(SHARED_KEY).decode(), "type": "base64"},
        issuer="waypost-test",
        audience="carrier-api",
        subject="acme",
        lifetime_minutes=20160,
    )
    rs = await create_method(
        running_app,
        tenant,
        name="carrier-rs",
        type="jwt",
        algorithm="RS256",
        private_key=private_pem,
        audience="rs-api",
        header="X-Carrier-Token",
        prefix="",
    )
    receiver.script("/hs", [Reply(503), Reply(200)])
    hs_sub = await subscribe(running_app, tenant, receiver.url("/hs"), auth_method_id=hs["id"])
    await subscribe(running_app, tenant, receiver.url("/rs"), auth_method_id=rs["id"])
    event = await settled(running_app, tenant, await post_event(running_app, tenant))
    assert {item["status"] for item in event["deliveries"]} == {"delivered"}

    hs_requests = receiver.requests_for("/hs")
    assert len(hs_requests) == 2
    ids = set()
    for request in hs_requests:
        claims = jwt.decode(
            bearer(request.header("Authorization")),
            SHARED_KEY,
            algorithms=["HS256"],
            audience="carrier-api",
            issuer="waypost-test",
        )
        assert claims["sub"] == "acme"
        assert claims["exp"] - claims["iat"] == 20160 * 60
        assert claims["body_sha256"] == hashlib.sha256(request.body).hexdigest()
        assert claims["webhook_id"] == request.header("webhook-id")
        ids.add(claims["jti"])
    assert len(ids) == 2, "a fresh token (jti) for each attempt"
    [hs_delivery] = [d for d in event["deliveries"] if d["webhook_id"] == hs_sub["id"]]
    assert hs_requests[0].header("webhook-id") == hs_delivery["id"]

    [rs_request] = receiver.requests_for("/rs")
    token = rs_request.header("X-Carrier-Token")
    assert token is not None and rs_request.header("Authorization") is None
    claims = jwt.decode(token, public_pem, algorithms=["RS256"], audience="rs-api")
    assert claims["body_sha256"] == hashlib.sha256(rs_request.body).hexdigest()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, rsa_pair()[1], algorithms=["RS256"], audience="rs-api")


async def test_methods_are_validated_and_secrets_never_returned(
    running_app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await running_app.tenant()
    client = running_app.client
    short = await client.post(
        "/api/v1/auth-methods",
        json={"name": "x", "type": "jwt", "signature": {"key": "short"}},
        headers=tenant.headers,
    )
    assert_error(short, 400, "signature.key")
    not_pem = await client.post(
        "/api/v1/auth-methods",
        json={"name": "x", "type": "jwt", "algorithm": "RS256", "private_key": "nope"},
        headers=tenant.headers,
    )
    assert_error(not_pem, 400, "private_key")
    method = await create_method(
        running_app,
        tenant,
        name="tms",
        type="oauth2",
        client_id="waypost",
        client_secret=CLIENT_SECRET,
        auth_url="https://auth.example.com",
        headers=[{"key": "X-Tenant", "value": "header-secret-4411"}],
    )
    renamed = await client.patch(
        f"/api/v1/auth-methods/{method['id']}", json={"scope": "webhooks"}, headers=tenant.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["scope"] == "webhooks"
    assert renamed.json()["client_id"] == "waypost"
    duplicate = await client.post(
        "/api/v1/auth-methods",
        json={"name": "tms", "type": "jwt", "signature": {"key": SHARED_KEY.decode()}},
        headers=tenant.headers,
    )
    assert_error(duplicate, 409, "tms")
    unknown = await client.post(
        "/api/v1/webhooks",
        json={
            "configuration": {"url": "https://example.com/h"},
            "event_types": ["task_created"],
            "auth_method_id": "00000000-0000-4000-8000-000000000000",
        },
        headers=tenant.headers,
    )
    assert_error(unknown, 400, "auth_method_id")
    webhook = await subscribe(
        running_app, tenant, "https://example.com/h", auth_method_id=method["id"]
    )
    in_use = await client.delete(f"/api/v1/auth-methods/{method['id']}", headers=tenant.headers)
    assert_error(in_use, 409, webhook["id"])
    detached = await client.patch(
        f"/api/v1/webhooks/{webhook['id']}", json={"auth_method_id": None}, headers=tenant.headers
    )
    assert detached.json()["auth_method_id"] is None
    other = await running_app.tenant("globex")
    hidden = await client.get(f"/api/v1/auth-methods/{method['id']}", headers=other.headers)
    assert_error(hidden, 404)
    responses = [
        await client.get("/api/v1/auth-methods", headers=tenant.headers),
        await client.get(f"/api/v1/auth-methods/{method['id']}", headers=tenant.headers),
        renamed,
    ]
    for response in responses:
        assert CLIENT_SECRET not in response.text
        assert "header-secret-4411" not in response.text
    deleted = await client.delete(f"/api/v1/auth-methods/{method['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert CLIENT_SECRET not in caplog.text and "header-secret-4411" not in caplog.text


async def test_oauth2_token_is_fetched_once_for_concurrent_sends(
    running_app: RunningApp, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.oauth2_server import TokenServer

    caplog.set_level(logging.DEBUG)
    tenant = await running_app.tenant()
    with TokenServer(client_id="waypost", client_secret=CLIENT_SECRET, expires_in=3600) as server:
        method = await create_method(
            running_app,
            tenant,
            name="tms",
            type="oauth2",
            client_id="waypost",
            client_secret=CLIENT_SECRET,
            auth_url=server.base_url,
            path=server.path,
            request_type="json",
            scope="webhooks",
            headers=[{"key": "X-Static", "value": "static-value"}],
        )
        await subscribe(running_app, tenant, receiver.url("/tms"), auth_method_id=method["id"])
        events = [{"type": "task_created", "data": {"n": number}} for number in range(200)]
        posted = await running_app.client.post(
            "/api/v1/events/batch", json={"events": events}, headers=tenant.headers
        )
        ids = posted.json()["ids"]
        for event_id in ids:
            await settled(running_app, tenant, event_id, within=60)
        assert len(server.token_requests) == 1
        assert server.token_requests[0].request_type == "json"
        tokens = {bearer(request.header("Authorization")) for request in receiver.requests}
        assert tokens == {server.issued[0]}
        assert {request.header("X-Static") for request in receiver.requests} == {"static-value"}
        detail = await running_app.client.get("/api/v1/deliveries?limit=1", headers=tenant.headers)
        assert CLIENT_SECRET not in detail.text and server.issued[0] not in detail.text
    assert CLIENT_SECRET not in caplog.text


@pytest.mark.parametrize("request_type", ["form", "query"])
async def test_oauth2_renews_expired_and_refused_tokens(
    running_app: RunningApp, receiver: Receiver, request_type: str
) -> None:
    from tests.support.oauth2_server import TokenServer

    tenant = await running_app.tenant()
    with TokenServer(client_id="waypost", client_secret=CLIENT_SECRET, expires_in=1) as server:
        method = await create_method(
            running_app,
            tenant,
            name="tms",
            type="oauth2",
            client_id="waypost",
            client_secret=CLIENT_SECRET,
            auth_url=server.base_url,
            path=server.path,
            request_type=request_type,
        )
        await subscribe(running_app, tenant, receiver.url("/tms"), auth_method_id=method["id"])
        await settled(running_app, tenant, await post_event(running_app, tenant))
        await asyncio.sleep(1.2)
        await settled(running_app, tenant, await post_event(running_app, tenant))
        assert len(server.token_requests) == 2, "an expired token is renewed"
        assert {r.request_type for r in server.token_requests} == {request_type}

        server.expires_in = 3600
        receiver.script("/tms", [Reply(401)])
        event_id = await post_event(running_app, tenant)
        [delivery] = (await settled(running_app, tenant, event_id))["deliveries"]
        assert delivery["status"] == "delivered"
        assert delivery["attempt_count"] == 1, "the resend after a 401 is not a retry"
        assert len(server.token_requests) == 3
        last_two = receiver.requests[-2:]
        assert bearer(last_two[0].header("Authorization")) != bearer(
            last_two[1].header("Authorization")
        )
        assert server.is_valid(bearer(last_two[1].header("Authorization")))


async def test_a_down_token_server_fails_the_attempt_clearly(
    running_app: RunningApp, receiver: Receiver
) -> None:
    from tests.support.oauth2_server import TokenServer

    tenant = await running_app.tenant()
    with TokenServer(client_id="waypost", client_secret=CLIENT_SECRET) as server:
        server.down = True
        method = await create_method(
            running_app,
            tenant,
            name="tms",
            type="oauth2",
            client_id="waypost",
            client_secret=CLIENT_SECRET,
            auth_url=server.base_url,
            path=server.path,
        )
        await subscribe(running_app, tenant, receiver.url("/tms"), auth_method_id=method["id"])
        event = await settled(running_app, tenant, await post_event(running_app, tenant))
    [delivery] = event["deliveries"]
    assert delivery["status"] == "failed"
    assert delivery["attempt_count"] == 4, "a token endpoint that is down is retried"
    assert (
        f"token request to {server.base_url}{server.path} failed: HTTP 503"
        in (delivery["last_error"])
    )
    assert receiver.requests == []
    assert json.dumps(event).count(CLIENT_SECRET) == 0
