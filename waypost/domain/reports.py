"""The Undelivered Webhooks Report: what a request asks for, and the CSV it produces.

A report lists each webhook that ended ``failed`` (after its last retry, or at
once on an error that is not retried) with its failure time in the range: one
row per webhook, however many attempts it had, as Bringg's report has it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from waypost.errors import LinkRefused, ValidationFailed

COLUMNS = (
    "webhook_type",
    "event_id",
    "delivery_id",
    "webhook_id",
    "url",
    "tracking_id",
    "created_at",
    "failed_at",
    "attempts",
    "last_status_code",
    "last_error",
    "payload",
)


@dataclass(frozen=True, kw_only=True)
class ReportRequest:
    start: datetime
    end: datetime
    webhook_types: tuple[str, ...] | None
    """``None``: every type."""
    keywords: tuple[str, ...]
    """Only webhooks whose payload contains every keyword."""


class ReportStatus(StrEnum):
    """Where a report is, as stored."""

    PENDING = "pending"
    """Requested; waiting for a worker to build it."""
    BUILDING = "building"
    """A worker holds its lease and is writing its parts."""
    READY = "ready"
    """Built: its CSV can be downloaded."""
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Report:
    id: str
    tenant_id: str
    status: ReportStatus
    request: ReportRequest
    email: str | None
    callback_url: str | None
    created_at: datetime
    finished_at: datetime | None
    row_count: int | None
    error: str | None
    notified_at: datetime | None


def check_range(start: datetime, end: datetime, max_days: int) -> None:
    """Raise ``ValidationFailed`` naming the field when the range is not usable."""
    if start >= end:
        raise ValidationFailed("end_date: must be after start_date")
    if end - start > timedelta(days=max_days):
        raise ValidationFailed(f"end_date: the range may span at most {max_days} days")


def iso(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else ""


def csv_chunk(rows: Iterable[Sequence[Any]], *, header: bool) -> str:
    """Rows as RFC 4180 CSV (CRLF line ends, quoting where needed), with the header row
    first if ``header``. Written a page at a time, so a report of any size streams."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def sign_link(key: bytes, *, report_id: str, tenant_id: str, expires: datetime) -> str:
    """The token of a report's download link: works without other credentials until
    ``expires``, for this report only, and fails if any character is changed."""
    claims = {"rid": report_id, "tid": tenant_id, "exp": int(expires.timestamp())}
    return jwt.encode(claims, key, algorithm="HS256")


def read_link(key: bytes, token: str, report_id: str) -> str:
    """The tenant a link token was made for; ``LinkRefused`` if expired, altered or for
    another report."""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise LinkRefused("the link has expired; request the report's URL again") from exc
    except jwt.PyJWTError as exc:
        raise LinkRefused("the link is not valid") from exc
    if claims.get("rid") != report_id:
        raise LinkRefused("the link is not valid")
    return str(claims["tid"])
