"""The Undelivered Webhooks Report: request it, then fetch it as Bringg's three steps describe.

1. ``POST /services/get_undelivered_webhooks`` (or ``/api/v1/reports/undelivered-webhooks``)
   answers at once with the report id; the link follows by callback and e-mail.
2. ``POST /tokens`` with a user's e-mail and password gives an ``authentication_token``.
3. ``GET /reports-service/v1/report_execution?uuid=<report id>`` with
   ``Authorization: Token token=<token>`` gives the report's status and a signed,
   30-day URL of the CSV that works without other credentials.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, OrjsonRoute
from waypost.domain import reports as domain_reports
from waypost.domain import sessions
from waypost.domain.models import Principal
from waypost.domain.reports import Report, read_link, sign_link
from waypost.errors import AuthenticationFailed
from waypost.resources import Services, services, utcnow
from waypost.services.reports import (
    ReportIn,
    issue_session_token,
    read_session_token,
    ready_report,
    report_csv,
    report_filename,
    request_report,
    sign_in,
)
from waypost.store.interfaces import ReportRepository

router = APIRouter(tags=["reports"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

_LINKS = "report-links"


class ReportAccepted(BaseModel):
    success: bool
    report_id: str


@router.post(
    "/services/get_undelivered_webhooks",
    response_model=ReportAccepted,
    summary="Request the Undelivered Webhooks Report (Bringg's URL)",
)
@router.post(
    "/api/v1/reports/undelivered-webhooks",
    response_model=ReportAccepted,
    summary="Request the Undelivered Webhooks Report",
)
async def request_undelivered_report(
    body: ReportIn, principal: Principal = Depends(limited), svc: Services = Depends(services)
) -> Json:
    """Answers at once; the report is built in the background and its link sent."""
    report_id = await request_report(
        svc.reports,
        principal.tenant_id,
        body.as_input(),
        now=utcnow(),
        max_days=svc.settings.report_max_days,
        allow_private=svc.settings.allow_private_targets,
    )
    return Json({"success": True, "report_id": report_id})


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class TokenOut(BaseModel):
    authentication_token: str
    expires_at: str


@router.post(
    "/tokens",
    response_model=TokenOut,
    summary="Sign in with a user's e-mail and password (Bringg's step 2)",
)
async def create_token(body: SignIn, svc: Services = Depends(services)) -> Json:
    session = await sign_in(svc.callers, svc.sign_in_throttle, body.email, body.password)
    token, expires_at = issue_session_token(
        svc.callers, session, now=utcnow(), hours=svc.settings.session_hours
    )
    return Json({"authentication_token": token, "expires_at": _iso(expires_at)})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def token_session(request: Request, svc: Services = Depends(services)) -> sessions.Session:
    """``Authorization: Token token=<authentication token>``, as Bringg's step 3 sends it."""
    header = request.headers.get("authorization", "")
    match = re.fullmatch(r'Token\s+token="?([^"\s]+)"?', header.strip())
    if match is None:
        raise AuthenticationFailed("Missing authentication headers")
    session = read_session_token(svc.callers, match.group(1))
    if session is None:
        raise AuthenticationFailed("the authentication token is expired or not valid")
    return session


class ReportStatus(BaseModel):
    uuid: str
    status: str
    rows: int | None
    created_at: str
    finished_at: str | None
    url: str | None = Field(description="The CSV, when ready: signed, valid 30 days")
    url_expires_at: str | None


def _status(svc: Services, report: Report) -> dict[str, Any]:
    url = expires = None
    if report.status == domain_reports.ReportStatus.READY:
        expires_at = utcnow() + timedelta(seconds=svc.settings.report_link_seconds)
        token = sign_link(
            svc.callers.derived_key(_LINKS),
            report_id=report.id,
            tenant_id=report.tenant_id,
            expires=expires_at,
        )
        url = f"{svc.settings.base_url}/reports-service/v1/download/{report.id}?token={token}"
        expires = _iso(expires_at)
    return {
        "uuid": report.id,
        "status": report.status,
        "rows": report.row_count,
        "created_at": _iso(report.created_at),
        "finished_at": _iso(report.finished_at) if report.finished_at else None,
        "url": url,
        "url_expires_at": expires,
    }


@router.get(
    "/reports-service/v1/report_execution",
    response_model=ReportStatus,
    responses=NOT_FOUND,
    summary="A report's status and, when ready, its CSV URL (Bringg's step 3)",
)
async def report_execution(
    uuid: Annotated[str, Query(max_length=100)],
    session: sessions.Session = Depends(token_session),
    svc: Services = Depends(services),
) -> Json:
    report = await svc.reports.get_report(tenant_id=session.tenant_id, report_id=uuid)
    return Json(_status(svc, report))


@router.get(
    "/api/v1/reports/{report_id}",
    response_model=ReportStatus,
    responses=NOT_FOUND,
    summary="A report's status and, when ready, its CSV URL",
)
async def get_report(
    report_id: Annotated[str, Path(max_length=100)],
    principal: Principal = Depends(limited),
    svc: Services = Depends(services),
) -> Json:
    report = await svc.reports.get_report(tenant_id=principal.tenant_id, report_id=report_id)
    return Json(_status(svc, report))


def _csv(store: ReportRepository, report: Report) -> StreamingResponse:
    filename = report_filename(report)
    return StreamingResponse(
        report_csv(store, report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/reports-service/v1/download/{report_id}",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {"content": {"text/csv": {}}, "description": "The CSV"},
        403: _doc("The link has expired, was altered, or is for another report"),
    },
    summary="The CSV of a report, by its signed URL",
)
async def download_report(
    report_id: Annotated[str, Path(max_length=100)],
    token: Annotated[str, Query(max_length=2000)],
    svc: Services = Depends(services),
) -> StreamingResponse:
    tenant_id = read_link(svc.callers.derived_key(_LINKS), token, report_id)
    return _csv(svc.reports, await ready_report(svc.reports, tenant_id, report_id))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Undelivered webhooks report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>Undelivered webhooks report</h1>
<p>Sign in as a user of the tenant that requested report <code>{report_id}</code> to
download it as CSV.</p>
<form method="post" action="/reports">
<input type="hidden" name="reportId" value="{report_id}">
<p><label for="email">E-mail</label><br>
<input id="email" name="email" type="email" autocomplete="username" required></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password"
required></p>
<p><button type="submit">Sign in and download</button></p>
</form></main></body></html>
"""


@router.get(
    "/reports",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def report_page(reportId: Annotated[str, Query(max_length=100)]) -> HTMLResponse:
    """The link sent by callback and e-mail: sign in, then the CSV downloads."""
    return HTMLResponse(_PAGE.format(report_id=html.escape(reportId, quote=True)))


@router.post("/reports", include_in_schema=False, response_class=StreamingResponse)
async def report_page_download(
    reportId: Annotated[str, Form(max_length=100)],
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    svc: Services = Depends(services),
) -> StreamingResponse:
    session = await sign_in(svc.callers, svc.sign_in_throttle, email, password)
    return _csv(svc.reports, await ready_report(svc.reports, session.tenant_id, reportId))
