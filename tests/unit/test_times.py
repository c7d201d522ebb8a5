"""Instants from requests: a zone is required, and UTC must stay within years 1 to 9999."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost.domain.times import EARLIEST, LATEST, to_utc

EDGE = timezone(timedelta(hours=23, minutes=59))
BEHIND = timezone(-timedelta(hours=23, minutes=59))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=EDGE),
        datetime(1, 1, 1, 23, 58, 59, tzinfo=EDGE),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=BEHIND),
        datetime(9999, 12, 31, 0, 1, tzinfo=BEHIND),
    ],
)
def test_times_beyond_the_range_in_utc_are_refused(moment: datetime) -> None:
    with pytest.raises(ValueError, match="between 0001-01-01T00:00:00Z and 9999-12-31"):
        to_utc(moment)


def test_the_ends_of_the_range_are_kept() -> None:
    assert to_utc(datetime(1, 1, 1, 23, 59, tzinfo=EDGE)) == EARLIEST
    assert to_utc(datetime(9999, 12, 31, 0, 0, 59, 999999, tzinfo=BEHIND)) == LATEST
    assert to_utc(datetime(2026, 1, 31, 13, tzinfo=timezone(timedelta(hours=1)))) == datetime(
        2026, 1, 31, 12, tzinfo=UTC
    )


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="give a time zone"):
        to_utc(datetime(2026, 1, 31, 12))


@given(st.datetimes(), st.integers(-(24 * 60 - 1), 24 * 60 - 1))
def test_any_time_with_any_offset_is_converted_or_refused_never_overflows(
    local: datetime, offset_minutes: int
) -> None:
    offset = timedelta(minutes=offset_minutes)
    moment = local.replace(tzinfo=timezone(offset))
    # Where the instant lies in UTC, counted from datetime.min as a timedelta, which
    # reaches past both ends of datetime's range.
    since_earliest = local - datetime.min - offset
    in_range = timedelta(0) <= since_earliest <= datetime.max - datetime.min
    if in_range:
        converted = to_utc(moment)
        assert converted.tzinfo is UTC and converted == moment
    else:
        with pytest.raises(ValueError):
            to_utc(moment)
