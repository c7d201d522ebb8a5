"""Chart geometry of the overview: round scales, bar lengths, minute slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waypost.web.charts import (
    bars,
    columns_path,
    minute_slots,
    nice_ceiling,
    scale_for,
    success_rate,
)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (1, 1),
        (1.5, 2),
        (3, 5),
        (5, 5),
        (7, 10),
        (10, 10),
        (11, 20),
        (240, 500),
        (999, 1000),
    ],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == ceiling


def test_scale_ticks_and_lengths() -> None:
    scale = scale_for(37)
    assert scale.maximum == 50
    assert scale.ticks == (0, 12.5, 25, 37.5, 50)
    assert scale.length(25, 200) == 100
    assert scale.length(80, 200) == 200, "clamped to the scale"


def test_bars_share_one_scale() -> None:
    scale, drawn = bars([("a", 3), ("b", 2)], full=100)
    assert scale.maximum == 5
    assert [(bar.label, bar.length) for bar in drawn] == [("a", 60), ("b", 40)]
    empty_scale, none = bars([], full=100)
    assert (empty_scale.maximum, none) == (1, ())


def test_minute_slots_place_counts_and_drop_those_outside() -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    counts = [
        (start, 2),
        (start + timedelta(minutes=2), 5),
        (start - timedelta(minutes=1), 9),
        (start + timedelta(minutes=3), 4),
    ]
    assert minute_slots(counts, start=start, minutes=3) == [2, 0, 5]


def test_columns_path_draws_only_non_zero_minutes() -> None:
    scale = scale_for(10)
    assert columns_path([0, 5, 10], scale, height=100) == "M1.5 100v-50.0 M2.5 100v-100.0"


def test_success_rate() -> None:
    assert success_rate(0, 0) is None
    assert success_rate(2, 1) == 66.7
    assert success_rate(5, 0) == 100
