"""The Undelivered Webhooks Report's statuses and rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waypost.domain.reports import ReportStatus, check_range, read_link, sign_link
from waypost.errors import Forbidden, LinkRefused, ValidationFailed

NOW = datetime.now(UTC)
KEY = b"k" * 32


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


def test_a_range_that_is_not_usable_is_refused_naming_the_field() -> None:
    # A time without a zone never gets here: the request's times are read by domain.times.
    with pytest.raises(ValidationFailed, match=r"^end_date: must be after start_date"):
        check_range(NOW, NOW, 31)
    with pytest.raises(ValidationFailed, match=r"^end_date: the range may span at most 31 days"):
        check_range(NOW - timedelta(days=32), NOW, 31)
    check_range(NOW - timedelta(days=31), NOW, 31)


def test_a_link_works_for_its_report_until_it_expires_and_is_refused_403_otherwise() -> None:
    token = sign_link(KEY, report_id="r1", tenant_id="t1", expires=NOW + timedelta(days=30))
    assert read_link(KEY, token, "r1") == "t1"
    expired = sign_link(KEY, report_id="r1", tenant_id="t1", expires=NOW - timedelta(days=1))
    refusals = {
        "the link has expired; request the report's URL again": (KEY, expired, "r1"),
        "the link is not valid": (KEY, token, "r2"),
    }
    for reason, (key, link, report_id) in refusals.items():
        with pytest.raises(LinkRefused) as refused:
            read_link(key, link, report_id)
        assert (refused.value.reason, refused.value.status) == (reason, 403)
    for altered in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", ""):
        with pytest.raises(LinkRefused, match=r"^the link is not valid$"):
            read_link(KEY, altered, "r1")
    with pytest.raises(LinkRefused, match=r"^the link is not valid$"):
        read_link(b"another key of thirty-two bytes!", token, "r1")
    assert issubclass(LinkRefused, Forbidden)
