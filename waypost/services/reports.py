"""The Undelivered Webhooks Report and the sign-in it is fetched with.

Request a report (``ReportIn`` is the body the API accepts and the dashboard's form
builds; ``ReportInput`` the plain values ``request_report`` takes), sign a user in,
issue and read the session tokens of ``POST /tokens`` and the dashboard's cookie, and
read a ready report's CSV.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

from waypost.domain import sessions
from waypost.domain.passwords import DUMMY_HASH, verify_password
from waypost.domain.reports import Report, ReportRequest, ReportStatus, check_range
from waypost.domain.urls import check_url
from waypost.errors import AuthenticationFailed, NotFound, ValidationFailed
from waypost.services.ingest import resolve_types, unknown_type
from waypost.services.inputs import Instant
from waypost.services.limits import SignInThrottle
from waypost.store.interfaces import Callers, ReportRepository

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SESSIONS = "sessions"


class Keys(Protocol):
    """Where signing keys come from (the store): one per purpose."""

    def derived_key(self, purpose: str) -> bytes: ...


@dataclass(frozen=True, kw_only=True)
class ReportInput:
    """A report request as its requester gives it, before its rules are checked."""

    start: datetime
    end: datetime
    webhook_types: tuple[str, ...] | None = None
    """Type names; ``None`` for every type."""
    webhook_type: tuple[str, ...] | None = None
    """The seed's spelling of ``webhook_types``: one of the two, not both."""
    keywords: tuple[str, ...] = ()
    email: str | None = None
    callback_url: str | None = None


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

    def as_input(self) -> ReportInput:
        return ReportInput(
            start=self.start_date,
            end=self.end_date,
            webhook_types=tuple(self.webhook_types) if self.webhook_types is not None else None,
            webhook_type=tuple(self.webhook_type) if self.webhook_type is not None else None,
            keywords=tuple(self.keywords or ()),
            email=self.email,
            callback_url=self.callback_url,
        )


async def request_report(
    store: ReportRepository,
    tenant_id: str,
    report: ReportInput,
    *,
    now: datetime,
    max_days: int,
    allow_private: bool,
) -> str:
    """Check a report request and store it for a worker to build; the report's id.
    ``max_days`` and ``allow_private`` are the settings ``report_max_days`` and
    ``allow_private_targets``."""
    check_range(report.start, report.end, max_days)
    if report.webhook_types is not None and report.webhook_type is not None:
        raise ValidationFailed("webhook_type: give webhook_types or webhook_type, not both")
    names = report.webhook_types if report.webhook_types is not None else report.webhook_type
    if names is not None:
        known = await resolve_types(store, tenant_id, set(names))
        for index, name in enumerate(names):
            if name not in known:
                raise unknown_type(name, f"webhook_types[{index}]")
    if report.email is None and report.callback_url is None:
        raise ValidationFailed("email: give an email or a callback_url (or both)")
    if report.email is not None and not _EMAIL.match(report.email):
        raise ValidationFailed("email: not an e-mail address")
    if report.callback_url is not None:
        check_url(report.callback_url, field="callback_url", allow_private=allow_private)
    return await store.create_report(
        tenant_id=tenant_id,
        request=ReportRequest(
            start=report.start,
            end=report.end,
            webhook_types=tuple(dict.fromkeys(names)) if names is not None else None,
            keywords=report.keywords,
        ),
        email=report.email,
        callback_url=report.callback_url,
        now=now,
    )


async def sign_in(
    store: Callers, throttle: SignInThrottle, email: str, password: str
) -> sessions.Session:
    """The user's session; the same 401 for an unknown e-mail and a wrong password, and
    slower answers after repeated failures for one e-mail."""
    await asyncio.sleep(throttle.delay(email))
    user = await store.user_by_email(email)
    valid = verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not valid:
        throttle.failed(email)
        raise AuthenticationFailed("wrong e-mail or password")
    throttle.succeeded(email)
    return sessions.Session(user_id=user.id, tenant_id=user.tenant_id)


def issue_session_token(
    keys: Keys, session: sessions.Session, *, now: datetime, hours: int
) -> tuple[str, datetime]:
    """A signed session token lasting ``hours`` (``WAYPOST_SESSION_HOURS``), and when it
    expires."""
    lifetime = timedelta(hours=hours)
    token = sessions.issue(keys.derived_key(_SESSIONS), session, now=now, lifetime=lifetime)
    return token, now + lifetime


def read_session_token(keys: Keys, token: str) -> sessions.Session | None:
    """The session ``token`` stands for, or ``None`` if it is expired or not valid."""
    return sessions.read(keys.derived_key(_SESSIONS), token)


async def ready_report(store: ReportRepository, tenant_id: str, report_id: str) -> Report:
    report = await store.get_report(tenant_id=tenant_id, report_id=report_id)
    if report.status != ReportStatus.READY:
        raise NotFound(f"report {report_id} is {report.status}, not ready")
    return report


def report_filename(report: Report) -> str:
    return f"undelivered-webhooks-{report.id}.csv"


async def report_csv(store: ReportRepository, report: Report) -> AsyncIterator[bytes]:
    """The report's CSV, decompressed a stored part at a time."""
    decompressor = zlib.decompressobj(wbits=31)
    async for part in store.report_parts(report_id=report.id):
        yield decompressor.decompress(part)
    yield decompressor.flush()
