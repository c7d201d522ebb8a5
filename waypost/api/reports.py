"""The Undelivered Webhooks Report: request it, then fetch it as Bringg's three steps describe.

1. ``POST /services/get_undelivered_webhooks`` (or ``/api/v1/reports/undelivered-webhooks``)
   answers at once with the report id; the link follows by callback and e-mail.
2. ``POST /tokens`` with a user's e-mail and password gives an ``authentication_token``.
3. ``GET /reports-service/v1/report_execution?uuid=<report id>`` with
   ``Authorization: Token token=<token>`` gives the report's status and a signed,
   30-day URL of the CSV that works without other credentials.
"""

from __future__ import annotations

import asyncio
import html
import re
import zlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from waypost.api.deps import limited
from waypost.api.errors import COMMON_ERRORS, NOT_FOUND, _doc
from waypost.api.responses import Json, OrjsonRoute
from waypost.domain import sessions
from waypost.domain.passwords import DUMMY_HASH, verify_password
from waypost.domain.reports import ReportRequest, check_range, read_link, sign_link
from waypost.domain.urls import check_url
from waypost.errors import AuthenticationFailed, NotFound, ValidationFailed, WaypostError
from waypost.resources import Services, services, utcnow
from waypost.services.ingest import resolve_types, unknown_type
from waypost.services.inputs import Instant
from waypost.store.models import Principal
from waypost.store.reports import Report

router = APIRouter(tags=["reports"], responses=COMMON_ERRORS, route_class=OrjsonRoute)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LINKS = "report-links"
_SESSIONS = "sessions"


class ReportIn(BaseModel):
    # Not strict: the dates arrive as ISO 8601 strings.
    model_config = ConfigDict(extra="forbid")
    start_date: Instant = Field(description="Time of the first failed webhook to include")
    end_date: Instant = Field(description="Time of the last failed webhook to include")
    webhook_types: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, max_length=200, description="Type names; null for every type"
    )
    webhook_type: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, max_length=200, description="The seed's spelling of webhook_types"
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=20, description="Only webhooks whose payload has every one"
    )
    email: str | None = Field(default=None, max_length=320)
    callback_url: str | None = Field(default=None, max_length=2000)


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
    report_id = await request_report(svc, principal.tenant_id, body)
    return Json({"success": True, "report_id": report_id})


async def request_report(svc: Services, tenant_id: str, body: ReportIn) -> str:
    """Check a report request and store it for a worker to build; the report's id."""
    try:
        check_range(body.start_date, body.end_date, svc.settings.report_max_days)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    if body.webhook_types is not None and body.webhook_type is not None:
        raise ValidationFailed("webhook_type: give webhook_types or webhook_type, not both")
    names = body.webhook_types if body.webhook_types is not None else body.webhook_type
    if names is not None:
        known = await resolve_types(svc.store, tenant_id, set(names))
        for index, name in enumerate(names):
            if name not in known:
                raise unknown_type(name, f"webhook_types[{index}]")
    if body.email is None and body.callback_url is None:
        raise ValidationFailed("email: give an email or a callback_url (or both)")
    if body.email is not None and not _EMAIL.match(body.email):
        raise ValidationFailed("email: not an e-mail address")
    if body.callback_url is not None:
        check_url(
            body.callback_url,
            field="callback_url",
            allow_private=svc.settings.allow_private_targets,
        )
    return await svc.store.create_report(
        tenant_id=tenant_id,
        request=ReportRequest(
            start=body.start_date,
            end=body.end_date,
            webhook_types=tuple(dict.fromkeys(names)) if names is not None else None,
            keywords=tuple(body.keywords or ()),
        ),
        email=body.email,
        callback_url=body.callback_url,
        now=utcnow(),
    )


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class TokenOut(BaseModel):
    authentication_token: str
    expires_at: str


async def sign_in(svc: Services, email: str, password: str) -> sessions.Session:
    """The user's session; the same 401 for an unknown e-mail and a wrong password, and
    slower answers after repeated failures for one e-mail."""
    await asyncio.sleep(svc.sign_in_throttle.delay(email))
    user = await svc.store.user_by_email(email)
    valid = verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not valid:
        svc.sign_in_throttle.failed(email)
        raise AuthenticationFailed("wrong e-mail or password")
    svc.sign_in_throttle.succeeded(email)
    return sessions.Session(user_id=user.id, tenant_id=user.tenant_id)


@router.post(
    "/tokens",
    response_model=TokenOut,
    summary="Sign in with a user's e-mail and password (Bringg's step 2)",
)
async def create_token(body: SignIn, svc: Services = Depends(services)) -> Json:
    token, expires_at = issue_session_token(svc, await sign_in(svc, body.email, body.password))
    return Json({"authentication_token": token, "expires_at": _iso(expires_at)})


def issue_session_token(svc: Services, session: sessions.Session) -> tuple[str, datetime]:
    """A signed session token lasting ``WAYPOST_SESSION_HOURS``, and when it expires."""
    now = utcnow()
    lifetime = timedelta(hours=svc.settings.session_hours)
    token = sessions.issue(svc.store.derived_key(_SESSIONS), session, now=now, lifetime=lifetime)
    return token, now + lifetime


def read_session_token(svc: Services, token: str) -> sessions.Session | None:
    """The session ``token`` stands for, or ``None`` if it is expired or not valid."""
    return sessions.read(svc.store.derived_key(_SESSIONS), token)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def token_session(request: Request, svc: Services = Depends(services)) -> sessions.Session:
    """``Authorization: Token token=<authentication token>``, as Bringg's step 3 sends it."""
    header = request.headers.get("authorization", "")
    match = re.fullmatch(r'Token\s+token="?([^"\s]+)"?', header.strip())
    if match is None:
        raise AuthenticationFailed("Missing authentication headers")
    session = read_session_token(svc, match.group(1))
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
    if report.status == "ready":
        expires_at = utcnow() + timedelta(seconds=svc.settings.report_link_seconds)
        token = sign_link(
            svc.store.derived_key(_LINKS),
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
    report = await svc.store.get_report(tenant_id=session.tenant_id, report_id=uuid)
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
    report = await svc.store.get_report(tenant_id=principal.tenant_id, report_id=report_id)
    return Json(_status(svc, report))


def report_csv(svc: Services, report: Report) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        decompressor = zlib.decompressobj(wbits=31)
        async for part in svc.store.report_parts(report_id=report.id):
            yield decompressor.decompress(part)
        yield decompressor.flush()

    filename = f"undelivered-webhooks-{report.id}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def ready_report(svc: Services, tenant_id: str, report_id: str) -> Report:
    report = await svc.store.get_report(tenant_id=tenant_id, report_id=report_id)
    if report.status != "ready":
        raise NotFound(f"report {report_id} is {report.status}, not ready")
    return report


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
    try:
        tenant_id = read_link(svc.store.derived_key(_LINKS), token, report_id)
    except ValueError as exc:
        raise LinkRefused(str(exc)) from exc
    return report_csv(svc, await ready_report(svc, tenant_id, report_id))


class LinkRefused(WaypostError):
    status = 403


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
    session = await sign_in(svc, email, password)
    return report_csv(svc, await ready_report(svc, session.tenant_id, reportId))
