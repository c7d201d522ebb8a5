"""Malformed input at the edge: URLs, times, cursors, numbers and credentials that once
answered 500 or were stored changed are 4xx in the error shape, naming the field. Over
real HTTP, on SQLite and PostgreSQL.

Each test walks a table of inputs on one running app (an app per input would start a
server and clone a database dozens of times) and reports every input that went wrong.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from tests.integration.test_events_api import subscribe
from tests.support.databases import settings_for
from tests.support.server import RunningApp, serve_app
from tests.support.tenants import TenantCredentials

MALFORMED_URLS = [
    "http://[::1/",
    "http://[zzzz]/",
    "http://[127.0.0.1]/",
    "http://exa\r\nmple.com/",
    "http://example.com/a\r\nX-Injected: 1",
    "http://exa\x00mple.com/",
    "http://example.com/\x7f",
    "http://exa mple.com/",
    "http://example.com/a b",
    "http://example.com:99999/",
    "http://example.com:-1/",
    "http://example.com:0/",
]
LOOPBACK_SPELLINGS = [
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
    "http://[::ffff:127.0.0.1]/",
]
EDGE_TIMES = ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"]
NUMBERS = {
    "1000000000000000000000000000000": "integer beyond 64 bits",
    "-9223372036854775809": "integer beyond 64 bits",
    "NaN": "NaN is not a JSON number",
    "Infinity": "Infinity",
    "-Infinity": "Infinity",
    "1e400": "Infinity",
}


def problem(
    label: str, response: httpx.Response, status: int, reason_start: str, reason_has: str = ""
) -> str | None:
    """What is wrong with ``response`` for an input that must be refused, if anything."""
    if response.status_code != status:
        return f"{label}: {response.status_code} {response.text[:200]}"
    body = response.json()
    if set(body) != {"uuid", "status", "reason"} or body["status"] != str(status):
        return f"{label}: not the error shape: {body}"
    if body["uuid"] != response.headers["x-request-id"]:
        return f"{label}: uuid is not the request id"
    if not body["reason"].startswith(reason_start):
        return f"{label}: reason {body['reason']!r} does not start with {reason_start!r}"
    if reason_has not in body["reason"]:
        return f"{label}: reason {body['reason']!r} does not say {reason_has!r}"
    return None


def report(problems: list[str | None]) -> None:
    found = [text for text in problems if text is not None]
    assert not found, "\n".join(found)


def _oauth2(auth_url: str) -> dict[str, Any]:
    return {
        "name": f"tms {secrets.token_hex(4)}",
        "type": "oauth2",
        "client_id": "waypost",
        "client_secret": "s3cret",
        "auth_url": auth_url,
    }


def _report(**overrides: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "start_date": (now - timedelta(days=1)).isoformat(),
        "end_date": now.isoformat(),
        "email": "ops@example.com",
    }
    return {**body, **overrides}


async def _url_problems(
    app: RunningApp, tenant: TenantCredentials, url: str, reason_has: str = ""
) -> list[str | None]:
    """``url`` given to every route that takes a target URL."""
    method = await app.client.post(
        "/api/v1/auth-methods", json=_oauth2("https://auth.example.com"), headers=tenant.headers
    )
    assert method.status_code == 201, method.text
    webhook = {"configuration": {"url": url}, "event_types": ["task_created"]}
    requests = [
        ("configuration.url", "POST", "/api/v1/webhooks", webhook),
        ("configuration.url", "POST", "/batch/api/v1/webhooks", {**webhook, "trackingIds": ["A"]}),
        ("auth_url", "POST", "/api/v1/auth-methods", _oauth2(url)),
        ("auth_url", "PATCH", f"/api/v1/auth-methods/{method.json()['id']}", {"auth_url": url}),
        ("callback_url", "POST", "/services/get_undelivered_webhooks", _report(callback_url=url)),
        ("callback_url", "POST", "/api/v1/reports/undelivered-webhooks", _report(callback_url=url)),
    ]
    problems = []
    for field, verb, path, body in requests:
        response = await app.client.request(verb, path, json=body, headers=tenant.headers)
        label = f"{verb} {path} {url!r}"
        problems.append(problem(label, response, 400, f"{field}: ", reason_has))
    return problems


async def test_malformed_target_urls_are_400_naming_the_field(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    problems = []
    for url in MALFORMED_URLS:
        problems += await _url_problems(running_app, tenant, url)
    report(problems)


async def test_every_spelling_of_a_loopback_target_is_refused_at_create(
    database_url: str,
) -> None:
    async with serve_app(settings_for(database_url, allow_private_targets=False)) as app:
        tenant = await app.tenant()
        problems = []
        for url in LOOPBACK_SPELLINGS:
            problems += await _url_problems(app, tenant, url, "WAYPOST_ALLOW_PRIVATE_TARGETS=1")
        report(problems)
        listed = await app.client.get("/api/v1/webhooks", headers=tenant.headers)
        assert listed.json() == []


def _cursor(*items: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(items))).decode().rstrip("=")


async def test_times_beyond_what_the_databases_store_are_400_naming_the_field(
    running_app: RunningApp,
) -> None:
    client, headers = running_app.client, (await running_app.tenant()).headers
    problems = []
    for moment in [*EDGE_TIMES, "2026-01-31T12:00:00"]:
        for field in ("since", "until"):
            listed = await client.get("/api/v1/deliveries", params={field: moment}, headers=headers)
            problems.append(problem(f"list {field}={moment}", listed, 400, f"{field}: "))
            replay = await client.post(
                "/api/v1/deliveries/replay", json={field: moment}, headers=headers
            )
            problems.append(problem(f"replay {field}={moment}", replay, 400, f"{field}: "))
    # A report's range is at most 31 days: each edge time with a partner days away from it.
    ranges = [
        ("start_date", "0001-01-01T00:00:00+23:59", "0001-01-10T00:00:00Z"),
        ("end_date", "9999-12-31T23:59:59-23:59", "9999-12-25T00:00:00Z"),
        ("start_date", "2026-01-31T12:00:00", "2026-02-01T00:00:00Z"),
        ("end_date", "2026-01-31T12:00:00", "2026-01-30T00:00:00Z"),
    ]
    for field, moment, partner in ranges:
        other = "end_date" if field == "start_date" else "start_date"
        for path in ("/services/get_undelivered_webhooks", "/api/v1/reports/undelivered-webhooks"):
            requested = await client.post(
                path, json=_report(**{field: moment, other: partner}), headers=headers
            )
            problems.append(problem(f"{path} {field}={moment}", requested, 400, f"{field}: "))
    report(problems)


async def test_the_ends_of_the_range_are_accepted_and_stored(running_app: RunningApp) -> None:
    client, headers = running_app.client, (await running_app.tenant()).headers
    earliest, latest = "0001-01-01T23:59:00+23:59", "9999-12-31T00:00:59.999999-23:59"
    listed = await client.get(
        "/api/v1/deliveries", params={"since": earliest, "until": latest}, headers=headers
    )
    assert listed.status_code == 200, listed.text
    replay = await client.post(
        "/api/v1/deliveries/replay", json={"since": earliest, "until": latest}, headers=headers
    )
    assert replay.status_code == 202, replay.text
    for start, end in (
        (earliest, "0001-01-20T00:00:00Z"),
        ("9999-12-20T00:00:00Z", latest),
    ):
        requested = await client.post(
            "/api/v1/reports/undelivered-webhooks",
            json=_report(start_date=start, end_date=end),
            headers=headers,
        )
        assert requested.status_code == 200, requested.text
        stored = await client.get(
            f"/api/v1/reports/{requested.json()['report_id']}", headers=headers
        )
        assert stored.status_code == 200, stored.text


async def test_malformed_cursors_are_400_naming_cursor(running_app: RunningApp) -> None:
    client, headers = running_app.client, (await running_app.tenant()).headers
    cursors = [
        *(_cursor(moment, "0190f0aa-0000-7000-8000-000000000000") for moment in EDGE_TIMES),
        _cursor("2026-01-31T12:00:00", "0190f0aa-0000-7000-8000-000000000000"),
        _cursor("yesterday", "x"),
        _cursor(1, 2),
        _cursor("2026-01-31T12:00:00Z"),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "!!!",
        "\u00e9t\u00e9",
    ]
    problems = []
    for cursor in cursors:
        listed = await client.get("/api/v1/deliveries", params={"cursor": cursor}, headers=headers)
        problems.append(problem(f"cursor {cursor!r}", listed, 400, "cursor: "))
    report(problems)


async def test_non_ascii_digits_in_a_limit_are_400_naming_limit(running_app: RunningApp) -> None:
    client, headers = running_app.client, (await running_app.tenant()).headers
    problems = []
    for limit in [
        "\u00b9",
        "\u00b2",
        "\u2460",
        "\u0663",
        "\uff11",
        "1" * 5000,
        "",
        "+5",
        "0",
        "150001",
    ]:
        listed = await client.get("/api/v1/webhooks", params={"limit": limit}, headers=headers)
        problems.append(problem(f"webhooks limit={limit[:10]!r}", listed, 400, "limit: "))
    for limit in ["\u00b9", "\u0663"]:
        listed = await client.get("/api/v1/deliveries", params={"limit": limit}, headers=headers)
        problems.append(problem(f"deliveries limit={limit!r}", listed, 400, "limit: "))
    report(problems)
    assert (await client.get("/api/v1/webhooks?limit=150000", headers=headers)).status_code == 200


def _json(template: str, number: str) -> bytes:
    """A body with ``number`` spliced in as written: no JSON library would write it."""
    return template.replace("N", number).encode()


async def test_numbers_json_cannot_carry_are_400_naming_where(running_app: RunningApp) -> None:
    app = running_app
    tenant = await app.tenant()
    webhook = await subscribe(app, tenant, "https://hooks.example.com/x")
    created_type = await app.client.post(
        "/api/v1/event-types",
        json={"name": "parcel_weighed", "group": "order", "example": {"grams": 1}},
        headers=tenant.headers,
    )
    assert created_type.status_code == 201, created_type.text
    bodies = [
        ("/api/v1/events", '{"type": "task_created", "data": {"id": 1, "n": N}}', "data.n: "),
        (
            "/api/v1/events/batch",
            '{"events": [{"type": "task_created", "data": {"id": 1}},'
            ' {"type": "task_created", "data": {"a": [0, N]}}]}',
            "events[1].data.a[1]: ",
        ),
        ("/api/v1/entities/order/4711", '{"fleet_id": N}', "fleet_id: "),
        (
            "/api/v1/webhooks",
            '{"configuration": {"url": "https://hooks.example.com/y"},'
            ' "event_types": ["task_created"],'
            ' "filters": [{"field": "fleet_id", "op": "eq", "value": N}]}',
            "filters[0].value: ",
        ),
        (f"/api/v1/webhooks/{webhook['id']}/preview", '{"id": 1, "n": {"m": N}}', "n.m: "),
        (
            "/api/v1/event-types",
            '{"name": "parcel_measured", "group": "order", "example": {"cm": N}}',
            "example.cm: ",
        ),
    ]
    problems = []
    for path, template, where in bodies:
        for number, reason in NUMBERS.items():
            response = await app.client.post(
                path,
                content=_json(template, number),
                headers={**tenant.headers, "Content-Type": "application/json"},
            )
            problems.append(problem(f"{path} {number}", response, 400, where + reason))
    report(problems)
    listed = await app.client.get("/api/v1/event-types/parcel_measured", headers=tenant.headers)
    assert listed.status_code == 404


async def test_integers_at_the_ends_of_64_bits_are_kept_exactly(running_app: RunningApp) -> None:
    tenant = await running_app.tenant()
    body = (
        b'{"type": "task_created", "data": {"id": 18446744073709551615,'
        b' "low": -9223372036854775808, "label": "12345678901234567890123"}}'
    )
    posted = await running_app.client.post(
        "/api/v1/events",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert posted.status_code == 202, posted.text
    event = await running_app.client.get(
        f"/api/v1/events/{posted.json()['id']}", headers=tenant.headers
    )
    assert b'"id":18446744073709551615' in event.content
    assert event.json()["data"] == {
        "id": 18446744073709551615,
        "low": -9223372036854775808,
        "label": "12345678901234567890123",
    }


async def test_malformed_basic_credentials_are_401_in_the_error_shape(
    running_app: RunningApp,
) -> None:
    problems = []
    for header in [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"\xff\xfe\xfd:secret").decode(),
        "Basic " + base64.b64encode(b"wpc_no_colon").decode(),
        "Basic",
    ]:
        response = await running_app.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": header},
        )
        problems.append(problem(header, response, 401, "Authorization: Basic "))
    report(problems)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


async def _signed_in(app: RunningApp, tenant: TenantCredentials) -> None:
    """Signs the app's client in to the dashboard; its cookie jar keeps the session."""
    form = await app.client.get("/sign-in")
    signed_in = await app.client.post(
        "/sign-in",
        data={"email": tenant.email, "password": tenant.password, "csrf_token": _csrf(form.text)},
    )
    assert signed_in.status_code == 303, signed_in.text


async def test_the_dashboard_forms_refuse_the_same_input_naming_the_field(
    database_url: str,
) -> None:
    """The dashboard answers a refused form with the form again (a 200) and the reason."""
    async with serve_app(settings_for(database_url, allow_private_targets=False)) as app:
        tenant = await app.tenant()
        await _signed_in(app, tenant)
        page = await app.client.get("/webhooks/new", params={"event_type": "task_created"})
        csrf = _csrf(page.text)
        forms = [
            *({"url_0": url} for url in MALFORMED_URLS + LOOPBACK_SPELLINGS),
            *(
                {
                    "url_0": "https://hooks.example.com/x",
                    "auth_0": "oauth2",
                    "oauth_client_id_0": "waypost",
                    "oauth_client_secret_0": "s3cret",
                    "oauth_auth_url_0": url,
                }
                for url in MALFORMED_URLS + LOOPBACK_SPELLINGS
            ),
        ]
        problems = []
        for fields in forms:
            answer = await app.client.post(
                "/webhooks/new",
                data={"event_type": "task_created", "url_count": "1", "csrf_token": csrf, **fields},
            )
            field = "auth_url" if "oauth_auth_url_0" in fields else "configuration.url"
            if answer.status_code != 200 or f"URL 1: {field}: " not in answer.text:
                problems.append(f"Add Webhook {fields}: {answer.status_code}")
        for moment in EDGE_TIMES:
            log = await app.client.get("/deliveries", params={"since": moment})
            if log.status_code != 200 or "since: must lie between" not in log.text:
                problems.append(f"Deliveries since={moment}: {log.status_code}")
        assert not problems, "\n".join(problems)
        webhooks = await app.client.get("/api/v1/webhooks", headers=tenant.headers)
        assert webhooks.json() == []
        methods = await app.client.get("/api/v1/auth-methods", headers=tenant.headers)
        assert methods.json() == []
