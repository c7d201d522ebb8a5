"""Builds requested reports, once each, and sends their links by callback and e-mail.

Runs in every process that dispatches (``serve``, ``worker``). A report is
claimed under a lease, so exactly one process builds it; a builder that dies
leaves the lease to run out and another process starts the report over, as does
one whose database goes away mid-build. While the database is unavailable the
worker pauses between tries, up to ``WAYPOST_DATABASE_RETRY_MAX`` seconds. The
CSV is written a page of rows at a time, gzip-compressed into parts of about a
megabyte stored in the database, so memory stays bounded whatever its size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import orjson

from waypost.config import Settings
from waypost.delivery.sender import OutboundRequest, RequestSender
from waypost.domain.backoff import Backoff
from waypost.domain.reports import Report, csv_chunk, iso
from waypost.errors import DatabaseUnavailable, WaypostError
from waypost.reports.mail import Mailer
from waypost.store.interfaces import ReportQueue

log = logging.getLogger(__name__)

PAGE_ROWS = 2_000
PART_BYTES = 1 << 20
# A finished report whose notifications are still unsent after this long lost its
# sender (a crash between finishing and notifying); another process sends them.
ORPHANED_AFTER = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def report_link(settings: Settings, report_id: str) -> str:
    """The dashboard link of the seed: ``.../reports?reportId=<uuid>``."""
    return f"{settings.base_url}/reports?reportId={report_id}"


class ReportWorker:
    def __init__(self, store: ReportQueue, sender: RequestSender, settings: Settings) -> None:
        self._store = store
        self._sender = sender
        self._settings = settings
        self._mailer = (
            Mailer.from_url(settings.smtp_url, settings.smtp_from, settings.ca_bundle)
            if settings.smtp_url
            else None
        )
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(self._settings.database_retry_max)
        while not stop.is_set():
            pause = self._settings.report_poll_interval
            try:
                worked = await self.work_once()
                backoff.reset()
            except DatabaseUnavailable:
                # The store has logged the outage; try again less and less often.
                worked = False
                pause = max(pause, backoff.next())
            except WaypostError as exc:
                log.error("report_worker_failed reason=%s", exc.reason)
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)

    async def work_once(self) -> bool:
        """Build one waiting report, or send orphaned notifications; whether there was work."""
        now = utcnow()
        report = await self._store.claim_report(
            owner=self.owner,
            now=now,
            lease_until=now + timedelta(seconds=self._settings.report_lease_seconds),
        )
        if report is not None:
            if await self._build(report):
                await self._notify(report)
            return True
        orphans = [
            found
            for found in await self._store.unnotified_reports(limit=10)
            if found.finished_at is not None and found.finished_at < now - ORPHANED_AFTER
        ]
        for orphan in orphans:
            await self._notify(orphan)
        return bool(orphans)

    async def _build(self, report: Report) -> bool:
        """Write the report's parts; ``False`` if another process took it over."""
        compressor = zlib.compressobj(wbits=31)  # gzip framing: the parts form one .csv.gz
        pending = bytearray(compressor.compress(csv_chunk((), header=True).encode()))
        seq = rows = 0
        async for page in self._store.failed_deliveries(report=report, page_rows=PAGE_ROWS):
            pending += compressor.compress(csv_chunk(map(_csv_row, page), header=False).encode())
            rows += len(page)
            if len(pending) >= PART_BYTES:
                if not await self._store_part(report, seq, pending):
                    return False
                seq += 1
                pending.clear()
        pending += compressor.flush()
        if not await self._store_part(report, seq, pending):
            return False
        seq += 1
        finished = await self._store.finish_report(
            report_id=report.id, owner=self.owner, row_count=rows, error=None, now=utcnow()
        )
        log.info("report_built report_id=%s rows=%d parts=%d", report.id, rows, seq)
        return finished

    async def _store_part(self, report: Report, seq: int, data: bytearray) -> bool:
        held = await self._store.add_report_part(
            report_id=report.id,
            owner=self.owner,
            seq=seq,
            data=bytes(data),
            lease_until=utcnow() + timedelta(seconds=self._settings.report_lease_seconds),
        )
        if not held:
            log.warning("report_lost report_id=%s", report.id)
        return held

    async def _notify(self, report: Report) -> None:
        link = report_link(self._settings, report.id)
        if report.callback_url:
            result = await self._sender.send(
                OutboundRequest(
                    url=report.callback_url,
                    headers={"Content-Type": "application/json"},
                    body=orjson.dumps({"report_id": report.id, "url": link}),
                )
            )
            log.info(
                "report_callback report_id=%s status=%s error=%s",
                report.id,
                result.status_code,
                result.error,
            )
        if report.email:
            if self._mailer is None:
                log.error(
                    "report_mail_skipped report_id=%s reason=WAYPOST_SMTP_URL unset", report.id
                )
            else:
                try:
                    await self._mailer.send(
                        to=report.email,
                        subject="Your undelivered webhooks report is ready",
                        text=(
                            "The report of undelivered webhooks you requested is ready.\n\n"
                            f"Download it (after signing in): {link}\n"
                        ),
                    )
                except (aiosmtplib.SMTPException, OSError) as exc:
                    log.error("report_mail_failed report_id=%s error=%s", report.id, exc)
        await self._store.mark_notified(report_id=report.id, now=utcnow())


def _csv_row(row: Any) -> tuple[Any, ...]:
    return (
        row.event_type,
        row.event_id,
        row.id,
        row.webhook_id,
        row.url,
        row.tracking_id or "",
        iso(row.created_at),
        iso(row.finished_at),
        row.attempt_count,
        row.last_status_code if row.last_status_code is not None else "",
        row.last_error or "",
        row.payload,
    )
