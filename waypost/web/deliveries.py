"""Deliveries: the searchable log, each delivery's attempts, Retry and Replay all failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from waypost.domain.lifecycle import Trigger, allowed
from waypost.domain.models import DeliveryStatus, DeliverySummary
from waypost.domain.times import to_utc
from waypost.errors import Conflict, ValidationFailed
from waypost.resources import Services, services, utcnow
from waypost.services.deliveries import replay, retry
from waypost.store.history import DeliveryFilter
from waypost.web.pages import Viewer, checked_form, form_text, redirect, render, viewer

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
DeliveryId = Annotated[str, Path(max_length=100)]
FILTER_FIELDS = ("status", "event_type", "webhook_id", "tracking_id", "since", "until")


@dataclass(frozen=True, kw_only=True)
class LogFilter:
    """The log's filter form as text, as it travels in the query string and hidden fields."""

    status: str = ""
    event_type: str = ""
    webhook_id: str = ""
    tracking_id: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def read(cls, values: dict[str, str]) -> LogFilter:
        return cls(**{name: values.get(name, "").strip() for name in FILTER_FIELDS})

    def selection(self) -> DeliveryFilter:
        """The store's filter; times are read as UTC (``datetime-local`` has no zone)."""
        if self.status and self.status not in set(DeliveryStatus):
            raise ValidationFailed(f"status: not one of {', '.join(DeliveryStatus)}")
        return DeliveryFilter(
            status=DeliveryStatus(self.status) if self.status else None,
            webhook_id=self.webhook_id or None,
            event_types=(self.event_type,) if self.event_type else (),
            tracking_id=self.tracking_id or None,
            since=_utc(self.since, "since"),
            until=_utc(self.until, "until"),
        )

    def query(self, **extra: str) -> str:
        pairs = {name: getattr(self, name) for name in FILTER_FIELDS}
        return urlencode({k: v for k, v in {**pairs, **extra}.items() if v})


def _utc(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: not a date and time (YYYY-MM-DDTHH:MM)") from exc
    try:
        return to_utc(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)
    except ValueError as exc:
        raise ValidationFailed(f"{name}: {exc}") from exc


async def _endpoints(svc: Services, tenant_id: str) -> list[tuple[str, str]]:
    """(subscription id, label) of the tenant's active endpoints, for the URL filter."""
    subscriptions = svc.subscriptions.iter_subscriptions(
        tenant_id=tenant_id, limit=500, now=utcnow()
    )
    return [
        (sub.id, f"{sub.url} ({', '.join((*sub.event_types, *sub.event_groups))})")
        async for sub in subscriptions
    ]


@router.get("/deliveries")
async def delivery_log(
    request: Request,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    replayed: Annotated[int | None, Query(ge=0)] = None,
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    log_filter = LogFilter.read(dict(request.query_params))
    items: list[DeliverySummary] = []
    next_cursor = error = None
    try:
        items, next_cursor = await svc.history.list_deliveries(
            tenant_id=who.tenant_id,
            selection=log_filter.selection(),
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    except ValidationFailed as exc:
        error = exc.reason
    endpoints = await _endpoints(svc, who.tenant_id)
    return render(
        request,
        "deliveries.html",
        viewer=who,
        items=items,
        urls=dict(endpoints),
        endpoints=endpoints,
        statuses=list(DeliveryStatus),
        log_filter=log_filter,
        next_query=log_filter.query(cursor=next_cursor) if next_cursor else None,
        notice=(
            f"{replayed} failed deliveries put back in the queue." if replayed is not None else None
        ),
        error=error,
    )


@router.post("/deliveries/replay")
async def replay_failed(
    form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    """Replay all failed deliveries of the current filter (its status field aside)."""
    log_filter = LogFilter.read({name: form_text(form, name) for name in FILTER_FIELDS})
    selection = log_filter.selection()
    count = await replay(
        svc.history,
        svc.work_available,
        who.tenant_id,
        DeliveryFilter(
            webhook_id=selection.webhook_id,
            event_types=selection.event_types,
            tracking_id=selection.tracking_id,
            since=selection.since,
            until=selection.until,
        ),
        now=utcnow(),
    )
    return redirect(f"/deliveries?{log_filter.query(replayed=str(count))}")


@router.get("/deliveries/{delivery_id}")
async def delivery_detail(
    request: Request,
    delivery_id: DeliveryId,
    notice: Annotated[str | None, Query(max_length=20)] = None,
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    delivery, attempts = await svc.history.get_delivery(
        tenant_id=who.tenant_id, delivery_id=delivery_id
    )
    payload = await svc.history.delivery_payload(tenant_id=who.tenant_id, delivery_id=delivery_id)
    shown: list[dict[str, Any]] = [
        {"attempt": attempt, "headers": attempt.request_headers} for attempt in attempts
    ]
    return render(
        request,
        "delivery_detail.html",
        viewer=who,
        delivery=delivery,
        attempts=shown,
        payload=payload,
        retryable=allowed(delivery.status, Trigger.MANUAL_RETRY),
        notice="Delivery put back in the queue." if notice == "retried" else None,
    )


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(
    delivery_id: DeliveryId,
    _form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    try:
        await retry(svc.history, svc.work_available, who.tenant_id, delivery_id, now=utcnow())
    except Conflict:
        # Already back in the queue (a second click, or another admin): show where it is.
        return redirect(f"/deliveries/{delivery_id}")
    return redirect(f"/deliveries/{delivery_id}?notice=retried")
