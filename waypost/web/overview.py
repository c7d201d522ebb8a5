"""Overview: the last 24 hours at a glance, as server-drawn SVG charts with tables beside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from waypost.resources import Services, services, utcnow
from waypost.web.charts import bars, columns_path, minute_slots, scale_for, success_rate
from waypost.web.pages import Viewer, render, viewer

router = APIRouter(include_in_schema=False)

WINDOW_MINUTES = 24 * 60
CHART_HEIGHT = 160.0
BAR_LENGTH = 420.0


def _window_start(now: datetime) -> datetime:
    """The first whole minute of the window that ends with the current minute."""
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    return minute - timedelta(minutes=WINDOW_MINUTES - 1)


@router.get("/")
async def overview(
    request: Request, who: Viewer = Depends(viewer), svc: Services = Depends(services)
) -> Response:
    start = _window_start(utcnow())
    counts = await svc.dashboard.deliveries_per_minute(tenant_id=who.tenant_id, since=start)
    delivered = minute_slots(
        [(c.minute, c.delivered) for c in counts], start=start, minutes=WINDOW_MINUTES
    )
    failed = minute_slots(
        [(c.minute, c.failed) for c in counts], start=start, minutes=WINDOW_MINUTES
    )
    per_minute = [d + f for d, f in zip(delivered, failed, strict=True)]
    scale = scale_for(max(per_minute, default=0))
    by_endpoint = await svc.dashboard.failures_by_endpoint(tenant_id=who.tenant_id, since=start)
    by_status = await svc.dashboard.failures_by_status(tenant_id=who.tenant_id, since=start)
    endpoint_scale, endpoint_bars = bars(
        [(item.label, item.count) for item in by_endpoint], full=BAR_LENGTH
    )
    status_scale, status_bars = bars(
        [(str(code) if code is not None else "no response", n) for code, n in by_status],
        full=BAR_LENGTH,
    )
    total_delivered, total_failed = sum(delivered), sum(failed)
    busiest = sorted(
        ((c.minute, c.delivered + c.failed) for c in counts), key=lambda item: -item[1]
    )[:5]
    return render(
        request,
        "overview.html",
        viewer=who,
        start=start,
        minutes=WINDOW_MINUTES,
        height=CHART_HEIGHT,
        scale=scale,
        # Failed columns are drawn over the total, so each column shows both parts.
        total_path=columns_path(per_minute, scale, height=CHART_HEIGHT),
        failed_path=columns_path(failed, scale, height=CHART_HEIGHT),
        hour_marks=[
            (index, (start + timedelta(minutes=index)).strftime("%H:%M"))
            for index in range(0, WINDOW_MINUTES, 180)
        ],
        delivered=total_delivered,
        failed=total_failed,
        rate=success_rate(total_delivered, total_failed),
        peak=max(per_minute, default=0),
        busiest=busiest,
        bar_length=BAR_LENGTH,
        endpoint_scale=endpoint_scale,
        endpoint_bars=endpoint_bars,
        status_scale=status_scale,
        status_bars=status_bars,
    )
