"""The months of the measured period: calendar months with ``run.start_date``, else blocks of 365/12 days."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date, timedelta

from .metrics import DAYS_PER_YEAR
from .scenario import RunSettings

MONTH_DAYS = DAYS_PER_YEAR / 12
"""A month without ``run.start_date``: a twelfth of the 365-day year."""


@dataclass(frozen=True)
class Month:
    """One month of the measured period: days ``from_day`` to ``to_day``, both included.

    ``start`` is its first day on the calendar (``None`` without ``run.start_date``).
    """

    index: int
    from_day: int
    to_day: int
    start: date | None = None

    @property
    def days(self) -> int:
        """How many days of the measured period the month holds."""
        return self.to_day - self.from_day + 1


def months(run: RunSettings) -> list[Month]:
    """The months of the measured period, in order, the last cut at ``run.days``."""
    return list(_months(run.start_date, run.days))


@functools.lru_cache(maxsize=64)
def _months(start_date: date | None, days: int) -> tuple[Month, ...]:
    """:func:`months`, made once per start and length (a run asks for them in each replication and table)."""
    starts = _calendar_starts(start_date, days) if start_date else _block_starts(days)
    ends = [*starts[1:], days]
    return tuple(Month(index, start, end - 1, start_date + timedelta(days=start) if start_date else None)
                 for index, (start, end) in enumerate(zip(starts, ends, strict=True)))


def _block_starts(days: int) -> list[int]:
    starts: list[int] = []
    while (start := math.floor(len(starts) * MONTH_DAYS)) < days:
        starts.append(start)
    return starts


def _calendar_starts(start_date: date, days: int) -> list[int]:
    starts, first = [0], start_date.replace(day=1)
    while True:
        first = (first + timedelta(days=32)).replace(day=1)   # the first of the next month
        day = (first - start_date).days
        if day >= days:
            return starts
        starts.append(day)
