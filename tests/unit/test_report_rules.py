"""The Undelivered Webhooks Report's statuses and rules, without a database."""

from __future__ import annotations

from waypost.domain.reports import ReportStatus


def test_report_statuses_are_the_stored_strings() -> None:
    assert {status: status.value for status in ReportStatus} == {
        ReportStatus.PENDING: "pending",
        ReportStatus.BUILDING: "building",
        ReportStatus.READY: "ready",
        ReportStatus.FAILED: "failed",
    }
    # Read back from a row, and shown in JSON, pages and messages, as the bare string.
    assert ReportStatus("ready") is ReportStatus.READY
    assert f"{ReportStatus.BUILDING}" == str(ReportStatus.BUILDING) == "building"
