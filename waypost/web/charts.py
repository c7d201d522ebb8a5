"""Chart geometry for the overview's inline SVG: scales and shapes, no drawing library.

Everything here is arithmetic on counts, so the charts are tested without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= value:
            return step * power
    raise AssertionError("unreachable: 10 * power >= value")


@dataclass(frozen=True, kw_only=True)
class Scale:
    maximum: float
    ticks: tuple[float, ...]

    def length(self, value: float, full: float) -> float:
        """How long ``value`` is drawn when ``maximum`` is drawn ``full`` long."""
        return round(full * min(value, self.maximum) / self.maximum, 2)


def scale_for(peak: float, *, ticks: int = 4) -> Scale:
    """A scale from 0 to a round number at least ``peak``, with ``ticks`` equal steps."""
    maximum = nice_ceiling(peak)
    return Scale(maximum=maximum, ticks=tuple(maximum * step / ticks for step in range(ticks + 1)))


@dataclass(frozen=True, kw_only=True)
class Bar:
    label: str
    value: int
    length: float


def bars(items: Sequence[tuple[str, int]], *, full: float) -> tuple[Scale, tuple[Bar, ...]]:
    """Horizontal bars of ``(label, value)`` on one scale whose maximum is ``full`` long."""
    scale = scale_for(max((value for _label, value in items), default=0))
    return scale, tuple(
        Bar(label=label, value=value, length=scale.length(value, full)) for label, value in items
    )


def minute_slots(
    counts: Sequence[tuple[datetime, int]], *, start: datetime, minutes: int
) -> list[int]:
    """One value per minute from ``start``: the given ``(minute, count)`` pairs, else 0."""
    slots = [0] * minutes
    for minute, count in counts:
        index = (minute - start) // timedelta(minutes=1)
        if 0 <= index < minutes:
            slots[index] += count
    return slots


def columns_path(values: Sequence[int], scale: Scale, *, height: float) -> str:
    """An SVG path of one vertical line per non-zero value, a unit apart, from the
    bottom (``height``) up to the value on ``scale``."""
    return " ".join(
        f"M{index + 0.5} {height}v-{scale.length(value, height)}"
        for index, value in enumerate(values)
        if value
    )


def success_rate(delivered: int, failed: int) -> float | None:
    """Delivered share of finished deliveries, in percent; ``None`` when none finished."""
    finished = delivered + failed
    return None if finished == 0 else round(100 * delivered / finished, 1)
