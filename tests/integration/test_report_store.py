"""A report's way through the store, and the status it reads back as, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.tenants import make_tenant
from waypost.domain.reports import ReportRequest, ReportStatus
from waypost.store import Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def test_a_report_is_pending_then_building_then_ready(store: Store) -> None:
    tenant = await make_tenant(store)
    report_id = await store.create_report(
        tenant_id=tenant.tenant_id,
        request=ReportRequest(
            start=NOW - timedelta(days=1), end=NOW, webhook_types=None, keywords=()
        ),
        email="ops@example.com",
        callback_url=None,
        now=NOW,
    )
    waiting = await store.get_report(tenant_id=tenant.tenant_id, report_id=report_id)
    assert waiting.status is ReportStatus.PENDING

    lease = NOW + timedelta(minutes=5)
    claimed = await store.claim_report(owner="w", now=NOW, lease_until=lease)
    assert claimed is not None and claimed.status is ReportStatus.BUILDING
    assert await store.claim_report(owner="other", now=NOW, lease_until=lease) is None
    # A builder that died leaves its lease to run out; another worker takes the report.
    later = lease + timedelta(seconds=1)
    taken = await store.claim_report(owner="other", now=later, lease_until=later)
    assert taken is not None and taken.status is ReportStatus.BUILDING

    assert await store.finish_report(
        report_id=report_id, owner="other", row_count=0, error=None, now=later
    )
    [done] = await store.unnotified_reports(limit=10)
    assert (done.id, done.status) == (report_id, ReportStatus.READY)
    [listed] = await store.list_reports(tenant_id=tenant.tenant_id)
    assert listed.status is ReportStatus.READY
