"""Settings > Webhooks: the list with health, "Add Webhook" as the seed's procedure has
it, and one endpoint's page with Selected Data, Restore Default Data and Send test.

Everything goes through the use cases the API calls too (``waypost.services``:
``register``, ``preview_body``, ``prepare_test_push``, ``parse_auth_method``), with
the bodies the API accepts, so the dashboard validates and behaves exactly as the
API does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from waypost.domain.catalog import EVENT_GROUPS, EVENT_TYPES, EventType
from waypost.domain.masking import masked_headers
from waypost.domain.models import StoredAuthMethod, Subscription
from waypost.domain.payload import parse_fields
from waypost.domain.urls import check_url
from waypost.errors import DatabaseUnavailable, ValidationFailed, WaypostError
from waypost.resources import Services, services, utcnow
from waypost.services.auth_methods import method_of, parse_auth_method
from waypost.services.inputs import validation_reason
from waypost.services.subscriptions import (
    SubscriptionInput,
    WebhookCreate,
    prepare_test_push,
    preview_body,
    register,
    sample_type_for,
)
from waypost.web import webhook_form
from waypost.web.charts import success_rate
from waypost.web.fieldtree import field_tree, flatten
from waypost.web.pages import Viewer, checked_form, form_text, redirect, render, viewer

router = APIRouter(include_in_schema=False)

HEALTH_WINDOW = timedelta(hours=24)
MAX_LISTED = 1000
NOTICES = {
    "added": "Webhook added.",
    "deleted": "Webhook endpoint deleted.",
    "fields": "Selected fields saved.",
    "restored": "Default data restored.",
}
WebhookId = Annotated[str, Path(max_length=100)]


async def _catalog(svc: Services, tenant_id: str) -> dict[str, EventType]:
    return {
        **EVENT_TYPES,
        **{t.name: t for t in await svc.event_types.custom_event_types(tenant_id=tenant_id)},
    }


def _grouped(catalog: dict[str, EventType], query: str) -> list[tuple[str, list[EventType]]]:
    """Event types by group, in the catalog's group order, narrowed by ``query``."""
    needle = query.lower()
    groups: defaultdict[str, list[EventType]] = defaultdict(list)
    for event_type in catalog.values():
        text = f"{event_type.name} {event_type.title} {event_type.group}".lower()
        if needle in text:
            groups[event_type.group].append(event_type)
    order = {name: index for index, name in enumerate(EVENT_GROUPS)}
    return sorted(groups.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


def _event_label(subscription: Subscription) -> str:
    return ", ".join((*subscription.event_types, *subscription.event_groups))


@router.get("/webhooks")
async def webhook_list(
    request: Request,
    notice: Annotated[str | None, Query(max_length=20)] = None,
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    now = utcnow()
    health = await svc.dashboard.endpoint_health(tenant_id=who.tenant_id, since=now - HEALTH_WINDOW)
    methods = {m.id: m for m in await svc.auth_methods.list_auth_methods(tenant_id=who.tenant_id)}
    events: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    async for subscription in svc.subscriptions.iter_subscriptions(
        tenant_id=who.tenant_id, limit=MAX_LISTED, now=now
    ):
        found = health.get(subscription.id)
        events[_event_label(subscription)].append(
            {
                "subscription": subscription,
                "auth": _auth_summary(subscription, methods),
                "rate": success_rate(found.delivered, found.failed) if found else None,
                "health": found,
            }
        )
    return render(
        request,
        "webhooks.html",
        viewer=who,
        events=sorted(events.items()),
        notice=NOTICES.get(notice or ""),
    )


def _auth_summary(subscription: Subscription, methods: dict[str, StoredAuthMethod]) -> str:
    """How the endpoint is authorized, secrets as "set" only."""
    parts = [f"header {key}: set" for key in subscription.header_keys]
    method = methods.get(subscription.auth_method_id or "")
    if method is not None:
        kind = "JWT" if method.kind == "jwt" else "OAuth2"
        parts.append(f"{kind} \u201c{method.name}\u201d: secret set")
    return "; ".join(parts) or "none"


@router.get("/webhooks/new")
async def new_webhook(
    request: Request,
    event_type: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str, Query(max_length=100)] = "",
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    catalog = await _catalog(svc, who.tenant_id)
    if event_type is None or event_type not in catalog:
        return render(
            request,
            "webhook_event.html",
            viewer=who,
            groups=_grouped(catalog, q.strip()),
            query=q,
            error="Select an event." if event_type is not None else None,
        )
    form = webhook_form.WebhookForm(event_type=event_type, entries=(webhook_form.UrlEntry(),))
    return _form_page(request, who, catalog[event_type], form)


def _form_page(
    request: Request,
    who: Viewer,
    event_type: EventType,
    form: webhook_form.WebhookForm,
    error: str | None = None,
) -> Response:
    tree = field_tree(event_type.example)
    return render(
        request,
        "webhook_form.html",
        viewer=who,
        event_type=event_type,
        form=form,
        tree=tree,
        paths=flatten(tree),
        checked=set(form.fields),
        auth_kinds=webhook_form.AUTH_KINDS,
        algorithms=webhook_form.JWT_ALGORITHMS,
        request_types=webhook_form.REQUEST_TYPES,
        max_urls=webhook_form.MAX_URLS,
        error=error,
    )


def _text_fields(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _checked_fields(form: FormData) -> list[str]:
    return [value for value in form.getlist("fields") if isinstance(value, str)]


@router.post("/webhooks/new")
async def add_webhook(
    request: Request,
    form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    catalog = await _catalog(svc, who.tenant_id)
    posted = webhook_form.read_form(_text_fields(form), _checked_fields(form))
    if posted.event_type not in catalog:
        return redirect("/webhooks/new")
    event_type = catalog[posted.event_type]
    if form_text(form, "action") == "add_url":
        return _form_page(request, who, event_type, webhook_form.with_another_url(posted))
    try:
        await _create(svc, who, posted)
    except DatabaseUnavailable:
        raise  # 503 with Retry-After, as everywhere, rather than a form to correct
    except WaypostError as exc:
        return _form_page(request, who, event_type, posted, error=exc.reason)
    return redirect("/webhooks?notice=added")


async def _create(svc: Services, who: Viewer, form: webhook_form.WebhookForm) -> None:
    """Validate every endpoint first, then create its auth method and subscription; if one
    fails, what this form already created is removed again."""
    if form.flexible and not form.fields:
        raise ValidationFailed("Enable Flexible Webhook: select at least one field")
    allow_private = svc.settings.allow_private_targets
    planned = [
        _validated(form, entry, number, allow_private=allow_private)
        for number, entry in enumerate(form.entries, 1)
    ]
    created_methods: list[str] = []
    created_webhooks: list[str] = []
    now = utcnow()
    try:
        for number, (subscription, method_body) in enumerate(planned, 1):
            if method_body is not None:
                method = parse_auth_method(method_body)
                stored = await svc.auth_methods.create_auth_method(
                    tenant_id=who.tenant_id,
                    name=method.name,
                    method=method_of(method, allow_private=allow_private),
                    now=now,
                )
                created_methods.append(stored.id)
                subscription = replace(subscription, auth_method_id=stored.id)
            try:
                [(created, _spec)] = await register(
                    svc.subscription_setup,
                    who.principal,
                    subscription,
                    [None],
                    now=utcnow(),
                    allow_private=allow_private,
                    lifetime_days=svc.settings.subscription_lifetime_days,
                )
            except WaypostError as exc:
                raise ValidationFailed(f"URL {number}: {exc.reason}") from exc
            created_webhooks.append(created.id)
    except WaypostError:
        for webhook_id in created_webhooks:
            await svc.subscriptions.delete_subscription(
                tenant_id=who.tenant_id, subscription_id=webhook_id, now=now
            )
        for method_id in created_methods:
            await svc.auth_methods.delete_auth_method(
                tenant_id=who.tenant_id, method_id=method_id, now=now
            )
        raise


def _validated(
    form: webhook_form.WebhookForm,
    entry: webhook_form.UrlEntry,
    number: int,
    *,
    allow_private: bool,
) -> tuple[SubscriptionInput, dict[str, Any] | None]:
    """The endpoint's subscription and auth method body, checked as the API checks them
    (the URL before the auth method, which is named after its host)."""
    try:
        body = WebhookCreate.model_validate(webhook_form.subscription_body(form, entry))
        check_url(body.configuration.url, field="configuration.url", allow_private=allow_private)
        method_body = webhook_form.auth_method_body(form, entry)
        if method_body is not None:
            method_of(parse_auth_method(method_body), allow_private=allow_private)
    except ValidationError as exc:
        raise ValidationFailed(f"URL {number}: {validation_reason(exc.errors())}") from exc
    except WaypostError as exc:
        raise ValidationFailed(f"URL {number}: {exc.reason}") from exc
    return body.as_input(), method_body


async def _detail(
    request: Request,
    who: Viewer,
    svc: Services,
    webhook_id: str,
    *,
    notice: str | None = None,
    test: dict[str, Any] | None = None,
    error: str | None = None,
) -> Response:
    now = utcnow()
    subscription = await svc.subscriptions.get_subscription(
        tenant_id=who.tenant_id, subscription_id=webhook_id, now=now
    )
    event_type = await sample_type_for(svc.subscriptions, who.tenant_id, subscription)
    body, matches = await preview_body(svc.subscriptions, who.tenant_id, webhook_id, now=utcnow())
    methods = {m.id: m for m in await svc.auth_methods.list_auth_methods(tenant_id=who.tenant_id)}
    health = await svc.dashboard.endpoint_health(tenant_id=who.tenant_id, since=now - HEALTH_WINDOW)
    found = health.get(webhook_id)
    tree = field_tree(event_type.example)
    return render(
        request,
        "webhook_detail.html",
        viewer=who,
        subscription=subscription,
        event_label=_event_label(subscription),
        event_type=event_type,
        auth=_auth_summary(subscription, methods),
        health=found,
        rate=success_rate(found.delivered, found.failed) if found else None,
        tree=tree,
        checked=set(subscription.fields or ()),
        selected_data=orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode(),
        filters_match=matches,
        notice=NOTICES.get(notice or ""),
        test=test,
        error=error,
    )


@router.get("/webhooks/{webhook_id}")
async def webhook_detail(
    request: Request,
    webhook_id: WebhookId,
    notice: Annotated[str | None, Query(max_length=20)] = None,
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    return await _detail(request, who, svc, webhook_id, notice=notice)


@router.post("/webhooks/{webhook_id}/fields")
async def save_fields(
    request: Request,
    webhook_id: WebhookId,
    form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    checked = _checked_fields(form)
    try:
        if form_text(form, "flexible") != "on":
            raise ValidationFailed(
                "Enable Flexible Webhook to choose fields, or use Restore Default Data"
            )
        if not checked:
            raise ValidationFailed("Enable Flexible Webhook: select at least one field")
        fields = parse_fields(checked)
    except WaypostError as exc:
        return await _detail(request, who, svc, webhook_id, error=exc.reason)
    await svc.subscriptions.set_fields(
        tenant_id=who.tenant_id, subscription_id=webhook_id, fields=fields, now=utcnow()
    )
    return redirect(f"/webhooks/{webhook_id}?notice=fields")


@router.post("/webhooks/{webhook_id}/fields/restore")
async def restore_default_data(
    webhook_id: WebhookId,
    _form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    await svc.subscriptions.set_fields(
        tenant_id=who.tenant_id, subscription_id=webhook_id, fields=None, now=utcnow()
    )
    return redirect(f"/webhooks/{webhook_id}?notice=restored")


@router.post("/webhooks/{webhook_id}/test")
async def send_test(
    request: Request,
    webhook_id: WebhookId,
    _form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    """Send the test push now and show what was sent and what came back."""
    try:
        push = await prepare_test_push(
            svc.subscriptions,
            svc.limiter,
            svc.sender,
            svc.authenticator,
            who.principal,
            webhook_id,
            now=utcnow(),
        )
        outcome = await push
    except DatabaseUnavailable:
        raise
    except WaypostError as exc:
        return await _detail(request, who, svc, webhook_id, error=exc.reason)
    result = outcome.result
    test = {
        "headers": masked_headers(outcome.request.headers) if outcome.request else [],
        "body": outcome.request.body.decode(errors="replace") if outcome.request else "",
        "status_code": result.status_code if result else None,
        "duration_ms": round(result.duration_ms, 1) if result else None,
        "excerpt": result.body.decode(errors="replace") if result else "",
        "error": outcome.error,
    }
    return await _detail(request, who, svc, webhook_id, test=test)


@router.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(
    webhook_id: WebhookId,
    _form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    await svc.subscriptions.delete_subscription(
        tenant_id=who.tenant_id, subscription_id=webhook_id, now=utcnow()
    )
    return redirect("/webhooks?notice=deleted")
