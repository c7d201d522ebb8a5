"""The Undelivered Webhooks Report: request it for a range and types, download it when ready."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from waypost.domain.catalog import EVENT_TYPES
from waypost.errors import DatabaseUnavailable, WaypostError
from waypost.resources import Services, services, utcnow
from waypost.services.inputs import validation_reason
from waypost.services.reports import (
    ReportIn,
    ready_report,
    report_csv,
    report_filename,
    request_report,
)
from waypost.web.pages import Viewer, checked_form, form_text, redirect, render, viewer

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    who: Viewer,
    svc: Services,
    *,
    values: dict[str, str],
    chosen: list[str],
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    custom = await svc.event_types.custom_event_types(tenant_id=who.tenant_id)
    return render(
        request,
        "undelivered.html",
        viewer=who,
        reports=await svc.reports.list_reports(tenant_id=who.tenant_id),
        type_names=sorted({*EVENT_TYPES, *(t.name for t in custom)}),
        values=values,
        chosen=set(chosen),
        notice=notice,
        error=error,
    )


@router.get("/undelivered")
async def undelivered_page(
    request: Request,
    notice: Annotated[str | None, Query(max_length=20)] = None,
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    now = utcnow()
    values = {
        "start_date": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "end_date": (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "email": who.user.email,
        "keywords": "",
    }
    message = "Report requested; it appears below when ready." if notice == "requested" else None
    return await _page(request, who, svc, values=values, chosen=[], notice=message)


@router.post("/undelivered")
async def request_undelivered(
    request: Request,
    form: FormData = Depends(checked_form),
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    values = {name: form_text(form, name) for name in ("start_date", "end_date", "email")}
    values["keywords"] = form_text(form, "keywords")
    chosen = [value for value in form.getlist("webhook_types") if isinstance(value, str)]
    try:
        body = ReportIn.model_validate(
            {
                # datetime-local has no zone: the page says the times are UTC.
                "start_date": f"{values['start_date']}Z" if values["start_date"] else "",
                "end_date": f"{values['end_date']}Z" if values["end_date"] else "",
                "webhook_types": chosen or None,
                "keywords": values["keywords"].split() or None,
                "email": values["email"] or None,
            }
        )
        await request_report(
            svc.reports,
            who.tenant_id,
            body.as_input(),
            now=utcnow(),
            max_days=svc.settings.report_max_days,
            allow_private=svc.settings.allow_private_targets,
        )
    except ValidationError as exc:
        return await _page(
            request, who, svc, values=values, chosen=chosen, error=validation_reason(exc.errors())
        )
    except DatabaseUnavailable:
        raise  # 503 with Retry-After, as everywhere, rather than a form to correct
    except WaypostError as exc:
        return await _page(request, who, svc, values=values, chosen=chosen, error=exc.reason)
    return redirect("/undelivered?notice=requested")


@router.get("/undelivered/{report_id}.csv")
async def download_report(
    report_id: Annotated[str, Path(max_length=100)],
    who: Viewer = Depends(viewer),
    svc: Services = Depends(services),
) -> Response:
    report = await ready_report(svc.reports, who.tenant_id, report_id)
    filename = report_filename(report)
    return StreamingResponse(
        report_csv(svc.reports, report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
