"""Business days (開庁日) for processing deadlines: no weekends, national holidays or 年末年始.

National holidays follow the 国民の祝日に関する法律 as amended up to 2020 (Happy Monday
system, 振替休日, 国民の休日); the equinoxes use the usual approximation valid 1980–2099.
One-off holidays (e.g. an imperial event) are not included.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache


def _nth_monday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (7 - first.weekday()) % 7  # days to the first Monday
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _equinox_day(year: int, base: float) -> int:
    return int(base + 0.242194 * (year - 1980) - (year - 1980) // 4)


@lru_cache(maxsize=64)
def national_holidays(year: int) -> frozenset[dt.date]:
    """Japanese national holidays of ``year`` (from 2020 rules), with substitute holidays."""
    days = {
        dt.date(year, 1, 1),
        _nth_monday(year, 1, 2),  # 成人の日
        dt.date(year, 2, 11),
        dt.date(year, 2, 23),
        dt.date(year, 3, _equinox_day(year, 20.8431)),  # 春分の日
        dt.date(year, 4, 29),
        dt.date(year, 5, 3),
        dt.date(year, 5, 4),
        dt.date(year, 5, 5),
        _nth_monday(year, 7, 3),  # 海の日
        dt.date(year, 8, 11),
        _nth_monday(year, 9, 3),  # 敬老の日
        dt.date(year, 9, _equinox_day(year, 23.2488)),  # 秋分の日
        _nth_monday(year, 10, 2),  # スポーツの日
        dt.date(year, 11, 3),
        dt.date(year, 11, 23),
    }
    # 国民の休日: a weekday between two holidays.
    for day in sorted(days):
        gap = day + dt.timedelta(days=2)
        between = day + dt.timedelta(days=1)
        if gap in days and between not in days and between.weekday() != 6:
            days.add(between)
    # 振替休日: a holiday on Sunday moves to the next day that is not a holiday.
    for day in sorted(days):
        if day.weekday() == 6:
            substitute = day + dt.timedelta(days=1)
            while substitute in days:
                substitute += dt.timedelta(days=1)
            days.add(substitute)
    return frozenset(days)


def is_business_day(day: dt.date) -> bool:
    """Whether the municipal office is open: not a weekend, holiday or 12/29–1/3."""
    if day.weekday() >= 5:
        return False
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return False
    return day not in national_holidays(day.year)


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` business days after ``start`` (``start`` itself when ``days`` is 0).

    A ``start`` outside office hours counts from the next business day, as an application
    received on a Sunday is taken in on Monday.
    """
    current = start
    while not is_business_day(current):
        current += dt.timedelta(days=1)
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current
