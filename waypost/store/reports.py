"""Undelivered Webhooks Reports: requests, their claim by one worker, and their CSV parts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from waypost.domain.ids import new_id
from waypost.domain.models import DeliveryStatus
from waypost.domain.reports import Report, ReportRequest, ReportStatus
from waypost.errors import NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, dumps, valid_id
from waypost.store.deliveries import payload_column
from waypost.store.rows import as_report

r = t.reports
parts = t.report_parts
d = t.deliveries


class ReportQueries(StoreCore):
    async def create_report(
        self,
        *,
        tenant_id: str,
        request: ReportRequest,
        email: str | None,
        callback_url: str | None,
        now: datetime,
    ) -> str:
        report_id = new_id()
        async with self._write() as connection:
            await connection.execute(
                r.insert().values(
                    id=report_id,
                    tenant_id=tenant_id,
                    status=ReportStatus.PENDING,
                    start_date=request.start,
                    end_date=request.end,
                    webhook_types=(
                        dumps(request.webhook_types) if request.webhook_types is not None else None
                    ),
                    keywords=dumps(request.keywords),
                    email=email,
                    callback_url=callback_url,
                    created_at=now,
                )
            )
        return report_id

    async def get_report(self, *, tenant_id: str, report_id: str) -> Report:
        async with self._read() as connection:
            row = None
            if valid_id(report_id):
                row = (
                    await connection.execute(
                        r.select().where(r.c.id == report_id, r.c.tenant_id == tenant_id)
                    )
                ).first()
        if row is None:
            raise NotFound(f"report {report_id} not found")
        return as_report(row)

    async def list_reports(self, *, tenant_id: str, limit: int = 20) -> list[Report]:
        """The tenant's latest report requests, newest first."""
        query = r.select().where(r.c.tenant_id == tenant_id).order_by(r.c.created_at.desc())
        async with self._read() as connection:
            rows = (await connection.execute(query.limit(limit))).all()
        return [as_report(row) for row in rows]

    async def claim_report(
        self, *, owner: str, now: datetime, lease_until: datetime
    ) -> Report | None:
        """Lease the oldest report waiting to be built (or whose builder died) to ``owner``."""
        waiting = self._dialect.claimable(
            sa.select(r.c.id)
            .where(
                sa.or_(
                    r.c.status == ReportStatus.PENDING,
                    sa.and_(r.c.status == ReportStatus.BUILDING, r.c.lease_until < now),
                )
            )
            .order_by(r.c.created_at)
            .limit(1)
        )
        async with self._write() as connection:
            row = (
                await connection.execute(
                    r.update()
                    .where(r.c.id == waiting.scalar_subquery())
                    .values(
                        status=ReportStatus.BUILDING, lease_owner=owner, lease_until=lease_until
                    )
                    .returning(*r.c)
                )
            ).first()
            if row is not None:
                # A builder that died left parts behind: start over.
                await connection.execute(parts.delete().where(parts.c.report_id == row.id))
        return as_report(row) if row is not None else None

    async def failed_deliveries(
        self, *, report: Report, page_rows: int
    ) -> AsyncIterator[Sequence[Any]]:
        """The report's rows in pages of ``page_rows``, oldest failure first, from one query
        streamed with a server-side cursor: one index range scan for the whole report,
        however many rows, and never more than a page in memory."""
        request = report.request
        conditions = [
            d.c.tenant_id == report.tenant_id,
            d.c.status == DeliveryStatus.FAILED,
            d.c.finished_at >= request.start,
            d.c.finished_at <= request.end,
        ]
        if request.webhook_types is not None:
            conditions.append(d.c.event_type.in_(request.webhook_types))
        payload = payload_column()
        conditions.extend(payload.contains(word, autoescape=True) for word in request.keywords)
        query = (
            sa.select(
                d.c.event_type,
                d.c.event_id,
                d.c.id,
                d.c.webhook_id,
                t.webhooks.c.url,
                d.c.tracking_id,
                d.c.created_at,
                d.c.finished_at,
                d.c.attempt_count,
                d.c.last_status_code,
                d.c.last_error,
                payload.label("payload"),
            )
            .join(t.webhooks, t.webhooks.c.id == d.c.webhook_id)
            .join(t.events, t.events.c.id == d.c.event_id)
            .where(*conditions)
            .order_by(d.c.finished_at)
            .execution_options(yield_per=page_rows)
        )
        async with self._read() as connection:
            result = await connection.stream(query)
            async for page in result.partitions(page_rows):
                yield page

    async def add_report_part(
        self, *, report_id: str, owner: str, seq: int, data: bytes, lease_until: datetime
    ) -> bool:
        """Store one part and extend the lease; ``False`` if ``owner`` lost the report."""
        async with self._write() as connection:
            held = await connection.execute(
                r.update()
                .where(r.c.id == report_id, r.c.lease_owner == owner)
                .values(lease_until=lease_until)
            )
            if held.rowcount == 0:
                return False
            await connection.execute(parts.insert().values(report_id=report_id, seq=seq, data=data))
        return True

    async def finish_report(
        self, *, report_id: str, owner: str, row_count: int | None, error: str | None, now: datetime
    ) -> bool:
        async with self._write() as connection:
            done = await connection.execute(
                r.update()
                .where(r.c.id == report_id, r.c.lease_owner == owner)
                .values(
                    status=ReportStatus.FAILED if error else ReportStatus.READY,
                    row_count=row_count,
                    error=error,
                    finished_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
            )
        return bool(done.rowcount)

    async def mark_notified(self, *, report_id: str, now: datetime) -> None:
        async with self._write() as connection:
            await connection.execute(r.update().where(r.c.id == report_id).values(notified_at=now))

    async def unnotified_reports(self, *, limit: int) -> list[Report]:
        """Finished reports whose notifications were not sent (their sender stopped)."""
        async with self._read() as connection:
            rows = await connection.execute(
                r.select()
                .where(
                    r.c.status.in_((ReportStatus.READY, ReportStatus.FAILED)),
                    r.c.notified_at.is_(None),
                )
                .order_by(r.c.finished_at)
                .limit(limit)
            )
            return [as_report(row) for row in rows]

    async def report_parts(self, *, report_id: str) -> AsyncIterator[bytes]:
        """The report's compressed parts in order, one read per part."""
        seq = 0
        while True:
            async with self._read() as connection:
                data = (
                    await connection.execute(
                        sa.select(parts.c.data).where(
                            parts.c.report_id == report_id, parts.c.seq == seq
                        )
                    )
                ).scalar()
            if data is None:
                return
            yield bytes(data)
            seq += 1
